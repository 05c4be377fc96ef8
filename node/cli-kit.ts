// Small helpers shared by CLI commands: flag parsing with clear errors, help text, exit codes.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { bigintAsString } from './json-bigint.ts';

export interface Command {
  name: string;
  /** Full help text printed for `conclave <name> --help`. */
  help: string;
  /** Returns the process exit code. */
  run(argv: string[]): Promise<number>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with strict checking; unknown flags become a UsageError naming the flag. */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function requireFlag<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '') throw new UsageError(`missing required flag --${flag}`);
  return value;
}

export function wantsHelp(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, bigintAsString, 2) + '\n');
}

interface IntRange {
  min?: number;
  max?: number;
}

/** An optional integer flag: absent → undefined; else decimal digits only, a safe integer within [min, max]. */
export function optionalIntFlag(value: string | undefined, flag: string, { min = 0, max = Number.MAX_SAFE_INTEGER }: IntRange = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}`;
    throw new UsageError(`--${flag} must be ${range}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** An integer flag with a default (see optionalIntFlag). */
export function intFlag(value: string | undefined, flag: string, dflt: number, range: IntRange = {}): number {
  return optionalIntFlag(value, flag, range) ?? dflt;
}
