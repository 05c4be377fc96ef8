// Depth-, size- and count-limited JSON. A linear scan (no recursion, constant memory besides the
// nesting stack, which is itself bounded) checks the limits before JSON.parse builds anything, so
// a 10,000-deep nesting, a 25-million-element array or a 50 MB string is refused in one pass with an
// error that names where it is ($.report.entries[3].minerHotkey) and quotes at most a few dozen
// characters. The scanner is incremental: it also splits a top-level array into items for
// streaming (see json-stream.ts).
import { InputError } from './input-error.ts';

export interface JsonLimits {
  /** Deepest nesting of arrays/objects (the root container is depth 1). */
  maxDepth: number;
  /** Most values (scalars, arrays, objects) in the document — or per item when streaming. */
  maxValues: number;
  /** Longest string, object key or number literal, in characters as written. */
  maxStringChars: number;
}

export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 32, maxValues: 1_000_000, maxStringChars: 65_536 };

interface Frame {
  arr: boolean;
  /** Object: the key whose value is being read (cut short); array: the current index. */
  key: string | undefined;
  index: number;
  expectKey: boolean;
}

const PREVIEW = 40;

/** Where the scanner found a top-level array item (offsets into the chunk passed to feed). */
export type ItemEvent = { type: 'start'; at: number } | { type: 'end'; at: number };

export class JsonScanner {
  private readonly limits: JsonLimits;
  private readonly what: string;
  private readonly splitItems: boolean;
  private readonly stack: Frame[] = [];
  private values = 0;
  private consumed = 0;
  private inString = false;
  private escaped = false;
  private strLen = 0;
  private strHead = '';
  private strIsKey = false;
  private inScalar = false;
  private scalarLen = 0;
  private scalarHead = '';
  private itemOpen = false;
  private rootSeen = false;
  /** Cached search positions within the current chunk (see scan). */
  private nextPos = { bs: -2, qs: -2 };

  constructor(what: string, limits: Partial<JsonLimits> = {}, opts: { splitItems?: boolean } = {}) {
    this.what = what;
    this.limits = { ...DEFAULT_JSON_LIMITS, ...limits };
    this.splitItems = opts.splitItems ?? false;
  }

  /** Where the scan is, as a JSON path ($, $.a, $.a[3]). */
  path(): string {
    let p = '$';
    for (const f of this.stack) {
      if (f.arr) p += `[${f.index}]`;
      else if (f.key !== undefined && !f.expectKey) p += /^[A-Za-z_$][\w$]*$/.test(f.key) ? `.${f.key}` : `[${JSON.stringify(f.key)}]`;
    }
    return p;
  }

  private fail(problem: string): never {
    throw new InputError(`${this.what}: ${this.path()}: ${problem}`);
  }

  private value(): void {
    if (++this.values > this.limits.maxValues) this.fail(`more than ${this.limits.maxValues} values`);
  }

  private endScalar(): void {
    this.inScalar = false;
  }

  /** Scans a whole chunk (see scan). */
  feed(chunk: string): ItemEvent[] {
    return this.scan(chunk, 0, false).events;
  }

  /**
   * Scans `chunk` from `start`; returns where top-level array items start and end in it (when
   * splitting) and where it stopped: the chunk's end, or — with stopAfterItem — just after the
   * first item that ended, so a caller can handle items one at a time without buffering events.
   * A scan from 0 starts a new chunk; a scan from start > 0 continues the previous call's chunk.
   */
  scan(chunk: string, start: number, stopAfterItem: boolean): { events: ItemEvent[]; next: number } {
    const events: ItemEvent[] = [];
    const n = chunk.length;
    let i = start;
    // Positions of the next backslash and the next quote in chunk (-1: none left; -2: not looked up
    // yet), each looked up once and reused until passed — also by the next call on the same chunk
    // (stopAfterItem): searching them per escape or per item would be quadratic (a 4 MiB string of
    // \u0041 escapes took minutes, 100,000 small items in one chunk over a second).
    if (start === 0) this.nextPos = { bs: -2, qs: -2 };
    let { bs, qs } = this.nextPos;
    while (i < n) {
      if (this.inString) {
        // Jump to the next quote or backslash: long strings cost one indexOf, not a loop per char.
        if (this.escaped) {
          this.escaped = false;
          this.strLen++;
          i++;
          continue;
        }
        if (qs !== -1 && qs < i) qs = chunk.indexOf('"', i);
        if (bs !== -1 && bs < i) bs = chunk.indexOf('\\', i);
        let q = qs;
        const b = bs;
        if (b !== -1 && (q === -1 || b < q)) q = b;
        const stop = q === -1 ? n : q;
        if (this.strHead.length <= PREVIEW) this.strHead += chunk.slice(i, Math.min(stop, i + PREVIEW + 1 - this.strHead.length));
        this.strLen += stop - i;
        if (this.strLen > this.limits.maxStringChars) {
          this.fail(`${this.strIsKey ? 'a key' : 'a string'} longer than ${this.limits.maxStringChars} characters (${JSON.stringify(this.strHead.slice(0, PREVIEW))}…)`);
        }
        if (q === -1) { i = n; continue; }
        if (chunk.charCodeAt(q) === 0x5c) {
          this.escaped = true;
          this.strLen++;
          i = q + 1;
          continue;
        }
        this.inString = false;
        if (this.strIsKey) {
          const top = this.stack[this.stack.length - 1];
          top.key = this.strHead.slice(0, PREVIEW);
          top.expectKey = false;
        }
        i = q + 1;
        continue;
      }
      const c = chunk.charCodeAt(i);
      // whitespace
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        if (this.inScalar) this.endScalar();
        i++;
        continue;
      }
      const top = this.stack[this.stack.length - 1];
      const atItemLevel = this.splitItems && this.stack.length === 1 && top.arr;
      if (c === 0x2c /* , */ || c === 0x5d /* ] */ || c === 0x7d /* } */ || c === 0x3a /* : */) {
        if (this.inScalar) this.endScalar();
        let ended = false;
        if (atItemLevel && this.itemOpen && (c === 0x2c || c === 0x5d)) {
          events.push({ type: 'end', at: i });
          this.itemOpen = false;
          ended = true;
        }
        if (c === 0x2c && top) {
          if (top.arr) top.index++;
          else top.expectKey = true;
        } else if (c === 0x5d || c === 0x7d) {
          this.stack.pop();
        }
        i++;
        if (ended && stopAfterItem) {
          this.consumed += i - start;
          this.nextPos = { bs, qs };
          return { events, next: i };
        }
        continue;
      }
      if (this.inScalar) {
        if (++this.scalarLen > this.limits.maxStringChars) this.fail(`a literal longer than ${this.limits.maxStringChars} characters (${JSON.stringify(this.scalarHead.slice(0, PREVIEW))}…)`);
        if (this.scalarHead.length < PREVIEW) this.scalarHead += chunk[i];
        i++;
        continue;
      }
      // A value (or a key) starts here.
      const isKey = c === 0x22 && top !== undefined && !top.arr && top.expectKey;
      if (top === undefined) {
        if (this.rootSeen) this.fail('unexpected data after the top-level value');
        this.rootSeen = true;
      }
      if (!isKey) {
        if (atItemLevel && !this.itemOpen) {
          events.push({ type: 'start', at: i });
          this.itemOpen = true;
          this.values = 0;
        }
        this.value();
      }
      if (c === 0x22) {
        this.inString = true;
        this.strIsKey = isKey;
        this.strLen = 0;
        this.strHead = '';
        i++;
      } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        if (this.stack.length >= this.limits.maxDepth) this.fail(`nested deeper than ${this.limits.maxDepth} levels`);
        this.stack.push({ arr: c === 0x5b, key: undefined, index: 0, expectKey: c === 0x7b });
        i++;
      } else {
        this.inScalar = true;
        this.scalarLen = 1;
        this.scalarHead = chunk[i];
        i++;
      }
    }
    this.consumed += n - start;
    return { events, next: n };
  }

  /** Open arrays/objects at the current position (0 once the root value is closed). */
  get depth(): number {
    return this.stack.length;
  }

  /** Characters scanned so far. */
  get length(): number {
    return this.consumed;
  }
}

/**
 * JSON.parse after a limits scan. Syntax errors name the input and are cut short; limit errors name
 * the path. Both are InputError.
 */
export function parseJsonBounded(text: string, what: string, limits: Partial<JsonLimits> = {}): unknown {
  new JsonScanner(what, limits).feed(text);
  return parseJsonText(text, what);
}

/** JSON.parse with the engine's message cut short (it can quote the input). */
export function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    throw new InputError(`${what} is not valid JSON: ${msg.length > 160 ? `${msg.slice(0, 160)}…` : msg}`);
  }
}

/**
 * Limits for score-report JSON (one report or one signed report): 4096 entries of 5 fields, depth 4,
 * short strings (hashes, hotkeys, a 128-char signature). Anything bigger is not a report.
 */
export const REPORT_JSON_LIMITS: JsonLimits = { maxDepth: 8, maxValues: 50_000, maxStringChars: 1024 };
/** A pretty-printed report of 4096 entries is about 1 MiB. */
export const MAX_REPORT_FILE_BYTES = 8 * 1024 * 1024;
