// The ZIP intake's refusal type, its codes and limits. Every way an archive can be refused has a code;
// a refusal is a verdict on the submission (cached like any other), never a fault of the validator.

export type ZipRefusalCode =
  // structure: one reading of the bytes
  | 'corrupt' | 'unsupported' | 'end-record' | 'prefix' | 'trailing-data' | 'gap' | 'overlap' | 'count-mismatch'
  | 'header-mismatch' | 'crc-mismatch' | 'size-mismatch' | 'encrypted'
  // entries
  | 'symlink' | 'special-file' | 'absolute-path' | 'path-traversal' | 'bad-name' | 'file-type' | 'duplicate-name'
  | 'shadowing' | 'no-entrypoint' | 'unextractable'
  // sizes
  | 'too-many-files' | 'too-large' | 'compression-ratio';

export class ZipRefusal extends Error {
  readonly code: ZipRefusalCode;
  readonly entry?: string;
  constructor(code: ZipRefusalCode, message: string, entry?: string) {
    super(message);
    this.name = 'ZipRefusal';
    this.code = code;
    this.entry = entry;
  }
}

export interface ZipLimits {
  /** Regular files (directories not counted). */
  maxFiles: number;
  /** All records of the central directory, directories included. */
  maxEntries: number;
  maxTotalBytes: number;
  maxFileBytes: number;
  /** Largest uncompressed/compressed ratio of the bytes actually read, per entry (above 1 KiB) and overall. */
  maxRatio: number;
  /** UTF-8 bytes of a whole entry name. */
  maxPathBytes: number;
  /** UTF-8 bytes of one path component (NAME_MAX on Linux and most filesystems is 255). */
  maxComponentBytes: number;
  maxDepth: number;
  allowedExtensions: string[];
  entrypoint: string;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxFiles: 64,
  maxEntries: 272,
  maxTotalBytes: 4 * 1024 * 1024,
  maxFileBytes: 1024 * 1024,
  maxRatio: 100,
  maxPathBytes: 400,
  maxComponentBytes: 255,
  maxDepth: 6,
  allowedExtensions: ['.py', '.txt', '.md', '.json', '.toml', '.yaml', '.yml', '.cfg'],
  entrypoint: 'train.py',
};

/** A quoted entry name for messages (JSON escapes make control and invisible characters visible). */
export function shown(name: string): string {
  return JSON.stringify(name).replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
