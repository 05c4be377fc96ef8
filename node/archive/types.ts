// The archive's public option and result shapes (node/archive.ts re-exports them).
import type { SignedScoreReport } from '../../proto/score-report.ts';
import type { ListResult } from './errors.ts';

export type PutReportResult =
  | { status: 'stored' | 'duplicate' | 'equivocation'; hash: string }
  | { status: 'invalid'; reason: string };

export interface EquivocationProof {
  chain: string;
  netuid: number;
  runId: number;
  validatorHotkey: string;
  /** The report archived first for this (chain, subnet, run, validator). */
  first: SignedScoreReport;
  /** A different report, also validly signed by the same hotkey. */
  second: SignedScoreReport;
}

export interface PutOptions {
  /** Skip signature verification because the caller has just verified (e.g. the gossip layer). */
  verified?: boolean;
  /** fsync before resolving (survives power loss, not just a process crash). Default false. */
  sync?: boolean;
  /** Chain (genesis hash) the reports belong to; default the archive's chain. */
  chain?: string;
}

export interface OpenOptions {
  /** Create the archive when the directory is missing or empty (read-write only). Default true. */
  createIfMissing?: boolean;
  /** Genesis hash of the chain this process works on: the default chain of reads and writes. */
  chain?: string;
  /** What the user sets to choose `dir`, for messages (default --db), e.g. node.data_dir. */
  location?: string;
}

/** Filter of listings: `chain: 'any'` spans every chain; omitted means the archive's chain. */
export interface ListFilter {
  chain?: string | 'any';
  netuid?: number;
  runId?: number;
}

export interface JsonStore {
  get(key: string): Promise<unknown | undefined>;
  put(key: string, value: unknown): Promise<void>;
  /** Writes only when the key is absent; true when written. For evidence that must never be overwritten. */
  putIfAbsent(key: string, value: unknown): Promise<boolean>;
  del(key: string): Promise<void>;
  entries(opts?: { prefix?: string; limit?: number }): Promise<ListResult<{ key: string; value: unknown }>>;
}

export type BatchOp = { type: 'put'; sublevel: unknown; key: string; value: unknown } | { type: 'del'; sublevel: unknown; key: string };
