// Messages between the scale orchestrator (bench/scale/network.ts) and its worker processes
// (bench/scale/worker.ts), over the Node IPC channel of child_process.fork.
import type { Role } from './plan.ts';

export interface NodeSpec {
  index: number;
  configPath: string;
  dataDir: string;
  role: Role;
}

export type ToWorker =
  | { cmd: 'start'; plan: { validators: number; miners: number; byzantine: number }; nodes: NodeSpec[]; concurrency: number }
  | { cmd: 'metrics'; id: number }
  | { cmd: 'block'; index: number; peers: string[] }
  | { cmd: 'unblock' }
  | { cmd: 'byzantine'; active: boolean; flood?: { runId: number; rate: number; durationMs: number } }
  /** SIGKILL this worker the moment one of its nodes logs `phase` for `runId` (a kill -9 at a known point of the run). */
  | { cmd: 'die-at'; runId: number; phase: string }
  | { cmd: 'profile'; id: number; action: 'start' | 'stop'; file?: string }
  | { cmd: 'stop'; id: number };

/** What one node reports about itself. */
export interface NodeMetrics {
  index: number;
  peerId: string;
  admittedPeers: number;
  connections: number;
  bytesSent: number;
  bytesReceived: number;
  /** Reports this node sent compact (against the run's roster, proto/reveal-compact.ts). */
  publishedCompact: number;
  /** Where the bytes went (frame bytes before encryption): own gossip publishes x recipients, direct consensus sends, fetch responses served and received. */
  parts: { published: number; directSent: number; fetchServed: number; fetchReceived: number };
  rejected: Record<string, number>;
  accepted: number;
  bannedPeers: number;
  /** Peers in this node's gossipsub mesh for the reports topic, and their gossip scores. */
  meshPeers: { peerId: string; score: number }[];
  /** Lowest and highest gossip score this node gives any connected peer. */
  scores: { peerId: string; score: number }[];
  /** Mesh events since start by type and reason ("dropped:disconnected", "refused:us:superseded", ...). */
  meshEvents: Record<string, number>;
}

export interface WorkerMetrics {
  pid: number;
  nodes: NodeMetrics[];
  rssBytes: number;
  heapUsedBytes: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  sr25519Verifies: number;
  ed25519Verifies: number;
  byzantine: { secondReports: number; conflictingVotes: number; withheld: number; floodSent: number };
}

export type FromWorker =
  | { event: 'started'; index: number; peerId: string; multiaddr: string; ms: number }
  | { event: 'ready'; pid: number; ms: number }
  | { event: 'failed'; error: string }
  | { event: 'log'; index: number; at: number; msg: string; fields: Record<string, unknown> }
  | { event: 'metrics'; id: number; metrics: WorkerMetrics }
  | { event: 'profiled'; id: number }
  | { event: 'stopped'; id: number };
