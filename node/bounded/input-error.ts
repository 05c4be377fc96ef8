// Invalid input from a file or a peer: the CLI answers exit 1 ("invalid input", as each command's
// help says), never 2 (usage) and never a crash. Messages name the input and the field, and quote
// values only through proto/clip.ts.

export class InputError extends Error {
  readonly exitCode = 1;
  /** The errno code behind it, when an open/read failed (ENOENT, EACCES, EISDIR, ...). */
  readonly code?: string;
  constructor(message: string, code?: string) {
    super(message);
    this.name = 'InputError';
    this.code = code;
  }
}
