// Where the password of an encrypted hotkey comes from. Read only when the keyfile is encrypted,
// never logged, never kept longer than the decryption. Precedence (the most explicit first):
//   1. `--password-file FILE` on the command line,
//   2. the environment variable CONCLAVE_HOTKEY_PASSWORD (removed from the environment once read, so
//      no child process — Docker, the reviewer — inherits it),
//   3. `wallet.password_file` in the config (itself overridable by CONCLAVE_WALLET_PASSWORD_FILE).
import { statSync } from 'node:fs';
import { readBoundedFileSync } from '../bounded/file.ts';
import { InputError } from '../bounded/input-error.ts';

/** Largest password file read. */
const MAX_PASSWORD_FILE_BYTES = 64 * 1024;
import { expandHome } from '../config.ts';
import { WalletError } from './wallet-error.ts';

export const PASSWORD_ENV = 'CONCLAVE_HOTKEY_PASSWORD';

export interface PasswordSources {
  /** `--password-file FILE` given on the command line */
  flagFile?: string;
  /** `wallet.password_file` of the config ('' = unset) */
  configFile?: string;
  /** environment to read CONCLAVE_HOTKEY_PASSWORD from (default process.env; the variable is deleted after reading) */
  env?: Record<string, string | undefined>;
}

export interface Password {
  value: string;
  /** where it came from, for messages (never the value): "--password-file /etc/conclave/pw" */
  source: string;
  /** a warning to show (e.g. the file is readable by other users), or null */
  warning: string | null;
}

function fromFile(path: string, label: string): Password {
  const full = expandHome(path);
  let text: string;
  let mode = 0;
  try {
    mode = statSync(full).mode & 0o777;
    text = readBoundedFileSync(full, { maxBytes: MAX_PASSWORD_FILE_BYTES, what: 'password file' }).toString('utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory'
      : err instanceof InputError ? err.message.replace(/^password file \S+ /, '') : (err as Error).message;
    throw new WalletError(`cannot read the hotkey password from ${label} ${full}: ${why}`);
  }
  // one trailing newline is what `echo pw > file` leaves; anything else is part of the password
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new WalletError(`the hotkey password file ${full} (${label}) is empty`);
  const warning = (mode & 0o077) !== 0 ? `the password file ${full} is readable by other users (mode ${mode.toString(8)}): chmod 600 ${full}` : null;
  return { value, source: `${label} ${full}`, warning };
}

/** The password to decrypt a hotkey with, from the first source that is set; null when none is. */
export function resolveHotkeyPassword(s: PasswordSources): Password | null {
  if (s.flagFile) return fromFile(s.flagFile, '--password-file');
  const env = s.env ?? process.env;
  const v = env[PASSWORD_ENV];
  if (v !== undefined && v !== '') {
    delete env[PASSWORD_ENV];
    return { value: v, source: `the environment variable ${PASSWORD_ENV}`, warning: null };
  }
  if (s.configFile) return fromFile(s.configFile, 'wallet.password_file');
  return null;
}
