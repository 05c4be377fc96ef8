// Why `conclave start` refuses to start (each message names the cause and the fix): commit-reveal
// weights the runtime cannot take in decentralized mode, run windows that do not fit the tempo, a listen
// address taken since the pre-check.
import type { NodeConfig } from '../config.ts';
import type { ApiServer } from '../api/server.ts';
import { runWindows } from '../validator/windows.ts';
import { listenErrorCode, listenErrorMessage, listenSpecs } from '../listen-check.ts';

/** The node refuses to start: the message says why and what to do (printed without a stack). */
export class StartRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartRefused';
  }
}

/**
 * Decentralized mode must be able to set the certified weights. On a commit-reveal subnet Conclave
 * commits them timelocked (commit_timelocked_weights); only a runtime that offers no timelocked commit
 * call or no drand pallet leaves it unable to, and then the node refuses to start rather than fail
 * silently. `runtimeProblem` is what the client found missing (null: the runtime can take the commit).
 */
export function commitRevealRefusal(mode: NodeConfig['node']['mode'], netuid: number, commitRevealEnabled: boolean, runtimeProblem: string | null = null): string | null {
  if (mode !== 'decentralized' || !commitRevealEnabled || runtimeProblem === null) return null;
  return `subnet ${netuid} has commit-reveal weights enabled (CommitRevealWeightsEnabled) and ${runtimeProblem}, so in decentralized mode this validator `
    + 'could never set the certified weights. Either run in shadow mode (node.mode = "shadow" or CONCLAVE_MODE=shadow: consensus, '
    + 'certificates and the divergence record still work), point chain.endpoint at a node running a current subtensor runtime, or ask the subnet owner '
    + `to disable commit-reveal (sudo_set_commit_reveal_weights_enabled(${netuid}, false)) and start again.`;
}

/** The subnet's tempo leaves no room for the configured run windows: the message names the numbers. */
export function windowsRefusal(tempo: number, c: NodeConfig['consensus'], netuid: number): string | null {
  const w = runWindows(tempo, c);
  return w.ok ? null : `subnet ${netuid}: ${w.reason}`;
}

/** What the connected runtime lacks for commit-reveal weights (null: it can take timelocked commits). */
export function crRuntimeProblem(client: import('../chain/client.ts').SubtensorClient): string | null {
  const tx = client.api.tx as unknown as Record<string, Record<string, unknown> | undefined>;
  const q = client.api.query as unknown as Record<string, Record<string, unknown> | undefined>;
  if (!tx.subtensorModule?.commitTimelockedWeights && !tx.subtensorModule?.commitCrv3Weights) return 'the runtime has no commit_timelocked_weights call';
  if (!q.drand?.beaconConfig) return 'the runtime has no Drand pallet to reveal timelocked commits';
  return null;
}

/** Listens, or refuses to start with one line naming the port and the config key (a port taken since the pre-check). */
export async function listenOrRefuse(server: ApiServer, cfg: NodeConfig, key: 'api.listen' | 'metrics.address', hp: { host: string; port: number }) {
  try {
    return await server.listen(hp.host, hp.port);
  } catch (err) {
    const spec = listenSpecs(cfg).find((x) => x.key === key);
    const code = listenErrorCode(err);
    if (spec) throw new StartRefused(listenErrorMessage(spec, code, code ? '' : (err as Error).message));
    throw err;
  }
}
