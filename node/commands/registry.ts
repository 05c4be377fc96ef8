// The CLI's command table. Each command lives in its own module, loaded only when invoked,
// so `conclave --help` stays fast and a heavy dependency (libp2p, docker) loads only where used.
import type { Command } from '../cli-kit.ts';

export interface CommandEntry {
  name: string;
  summary: string;
  group: 'wallet' | 'data' | 'chain' | 'network' | 'intake' | 'sandbox' | 'node' | 'dev';
  load: () => Promise<{ default: Command }>;
}

export const COMMANDS: CommandEntry[] = [
  { name: 'keys', group: 'wallet', summary: 'Create or inspect a Bittensor hotkey (sr25519) and the node key', load: () => import('./keys.ts') },
  { name: 'report', group: 'data', summary: 'Sign or verify a canonical score report', load: () => import('./report.ts') },
  { name: 'archive', group: 'data', summary: 'Put, get and list signed reports and equivocations in a LevelDB archive', load: () => import('./archive.ts') },
  { name: 'sim', group: 'dev', summary: 'Deterministic Byzantine simulator of the consensus protocol', load: () => import('./sim.ts') },
  { name: 'devchain', group: 'chain', summary: 'Local Substrate JSON-RPC chain with subtensor metadata (dev/test)', load: () => import('./devchain.ts') },
  { name: 'chain', group: 'chain', summary: 'Read subnet state (hyperparameters, metagraph, commitments) from a chain', load: () => import('./chain.ts') },
  { name: 'fetch', group: 'intake', summary: 'Fetch a miner submission safely and check its sha256', load: () => import('./fetch.ts') },
  { name: 'review', group: 'intake', summary: 'Static review of a submission with CPython ast and the policy', load: () => import('./review.ts') },
  { name: 'quarantine', group: 'intake', summary: 'List, allow or reject quarantined (near-duplicate) submissions', load: () => import('./quarantine.ts') },
  { name: 'image', group: 'sandbox', summary: 'Build the sandbox evaluator image offline and print its digest', load: () => import('./image.ts') },
  { name: 'evaluate', group: 'sandbox', summary: 'Review, sandbox and evaluate one submission on the CPU image', load: () => import('./evaluate.ts') },
  { name: 'mesh', group: 'network', summary: 'Run a standalone P2P mesh member (debugging, tests)', load: () => import('./mesh.ts') },
  { name: 'start', group: 'node', summary: 'Start the validator node from a TOML config', load: () => import('./start.ts') },
  { name: 'audit', group: 'node', summary: "Re-verify a past run's reports, certificate and weights", load: () => import('./audit.ts') },
  { name: 'devnet', group: 'dev', summary: 'Run a local multi-validator devnet end to end (the embedded default)', load: () => import('./devnet.ts') },
];
