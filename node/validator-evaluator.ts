// EvaluatorPort over runtime/ (fetch → review → zip → duplicates → sandbox → MFU).
// The intake's fetch module (runtime/fetch.ts) had not landed when this was written; until it
// does, the node refuses to start rather than pretend to evaluate (see docs/node.md).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { NodeConfig } from './config.ts';
import type { EvaluatorPort, Logger } from './validator-ports.ts';

export async function sandboxEvaluator(cfg: NodeConfig, log: Logger): Promise<EvaluatorPort> {
  void log;
  const fetchModule = fileURLToPath(new URL('../runtime/fetch.ts', import.meta.url));
  if (!existsSync(fetchModule)) {
    throw new Error('the submission intake (runtime/fetch.ts) is not installed in this build, so submissions cannot be fetched safely; update Conclave and start again');
  }
  throw new Error(`evaluator wiring for runtime/fetch.ts + runtime/evaluate.ts (hardware class ${cfg.sandbox.hardwareClass}) is not implemented yet in node/validator-evaluator.ts`);
}
