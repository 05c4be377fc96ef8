// Signed extensions that subtensor adds and @polkadot/api does not know. Both carry no data in the
// extrinsic and none in the signing payload (their metadata types are `()`), so declaring them empty keeps
// extrinsics encoding, and the signing payload, byte-identical to what subtensor expects.
// Pass as `signedExtensions` to ApiPromise.create (and to TypeRegistry.setSignedExtensions).
export const SUBTENSOR_SIGNED_EXTENSIONS = {
  SubtensorTransactionExtension: { extrinsic: {}, payload: {} },
  DrandPriority: { extrinsic: {}, payload: {} },
} as const;
