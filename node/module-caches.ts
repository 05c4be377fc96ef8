// The CLI process's module-loading caches, set up before a command loads (node/cli.ts):
// - V8's on-disk compile cache (`module.enableCompileCache`): the second and later runs of a command
//   reuse the bytecode of the modules the first one compiled (`conclave audit` loads well over a thousand:
//   @polkadot/api, libp2p, the project's own files) instead of parsing and compiling them again. Node
//   checks each entry against the source's hash, so an edited or upgraded file is compiled afresh.
//   Where: $NODE_COMPILE_CACHE if set, else <tmpdir>/node-compile-cache; NODE_DISABLE_COMPILE_CACHE=1
//   turns it off (Node's own variables). A cache that cannot be written (read-only /tmp) costs nothing:
//   the command loads as without it.
// - the module-resolution cache (./resolve-cache.ts).
import { enableCompileCache } from 'node:module';
import { registerResolveCache } from './resolve-cache.ts';

export function enableModuleCaches(): void {
  registerResolveCache();
  enableCompileCache();
}
