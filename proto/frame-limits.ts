// Size limits shared by the P2P frames of proto/gossip.ts and proto/run-bundle.ts.

/** Largest payload of a gossip envelope (one signed reveal, one consensus message, one binding). */
export const MAX_GOSSIP_PAYLOAD_BYTES = 1024 * 1024;
/** Responses above this are refused by the requester (a get of 64 items is trimmed by the server to fit). */
export const MAX_FETCH_RESPONSE_BYTES = 16 * 1024 * 1024;
/** Longest utf8 reason or message in a hello, fetch or run-bundle frame. */
export const MAX_REASON_BYTES = 256;
