// The archive's public surface (the implementation is split by concern under node/archive/):
//   archive.ts        the Archive class: reports, equivocation proofs, certificates, evaluations, kv stores
//   stored-report.ts  a stored report: encoding, preparing a write, decoding against its slot
//   report-slots.ts   what a batch of reports writes (first reports and proofs never overwritten)
//   json-store.ts     the kv:<name> JSON stores
//   types.ts          option and result shapes
//   keys.ts           key schema (chain / netuid / run / validator)
//   layout.ts         the directory around the LevelDB: marker, STORE pointer, lock, superseded stores
//   open.ts           read-write open (lock, create) and read-only open (private snapshot)
//   snapshot.ts       consistent copies for read-only access
//   lock.ts           writer/repair exclusion
//   migrate.ts        format v1 → v2
//   repair.ts         safe repair: copy, LevelDB repair, verify, atomic swap
//   fault.ts          fault injection for crash tests
export { Archive, ARCHIVE_FORMAT, ARCHIVE_FORMAT_V1 } from './archive/archive.ts';
export type { BatchOp, EquivocationProof, JsonStore, ListFilter, OpenOptions, PutOptions, PutReportResult } from './archive/types.ts';
export { ArchiveCorruptError, ArchiveError, ArchiveLockedError } from './archive/errors.ts';
export type { CorruptEntry, ListResult } from './archive/errors.ts';
export { UNKNOWN_CHAIN, normalizeChain, runKey, type ResolvedRun, type RunRef } from './archive/keys.ts';
export { inspectDir } from './archive/layout.ts';
export { repairArchive, type RepairReport } from './archive/repair.ts';
