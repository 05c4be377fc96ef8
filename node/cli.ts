// conclave: the command-line entry point. Dispatches to lazily loaded command modules.
import { COMMANDS } from './commands/registry.ts';
import { UsageError, wantsHelp } from './cli-kit.ts';
import { versionLine } from './version.ts';
import { InputError } from './bounded/input-error.ts';
import { enableModuleCaches } from './module-caches.ts';

/** Error text for the terminal: a message can carry text from an input; never print more than a screenful. */
function shortMessage(err: unknown): string {
  const m = (err as Error)?.message ?? String(err);
  return m.length > 2000 ? `${m.slice(0, 2000)}… (message cut at 2000 of ${m.length} characters)` : m;
}

function mainHelp(): string {
  const groups = new Map<string, string[]>();
  for (const c of COMMANDS) {
    const lines = groups.get(c.group) ?? [];
    lines.push(`  ${c.name.padEnd(12)} ${c.summary}`);
    groups.set(c.group, lines);
  }
  let out = 'Usage: conclave <command> [options]\n\n';
  out += 'Conclave: a validator node that evaluates miners\' code in a sandbox, agrees on one winner\n';
  out += 'with the other validators (stake-weighted median + PBFT quorum) and archives the evidence.\n\n';
  for (const [group, lines] of groups) out += `${group.toUpperCase()} COMMANDS\n${lines.join('\n')}\n\n`;
  out += 'Run `conclave <command> --help` for the options of one command; `conclave --version` for the build.\n';
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(versionLine() + '\n');
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`conclave: unknown command '${name}'. Run \`conclave --help\` for the list.\n`);
    return 2;
  }
  let command;
  try {
    command = (await entry.load()).default;
  } catch (err) {
    process.stderr.write(`conclave ${name}: this command could not be loaded: ${(err as Error).message}\n`);
    return 2;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(command.help.endsWith('\n') ? command.help : command.help + '\n');
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`conclave ${name}: ${shortMessage(err)}\nRun \`conclave ${name} --help\` for usage.\n`);
      return 2;
    }
    process.stderr.write(`conclave ${name}: ${shortMessage(err)}\n`);
    // invalid input (a file or a peer gave bad bytes) is exit 1, as each command's help says
    return err instanceof InputError ? 1 : 2;
  }
}

if (import.meta.main) {
  enableModuleCaches();
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { process.stderr.write(`conclave: ${(err as Error).stack ?? err}\n`); process.exitCode = 2; },
  );
}
