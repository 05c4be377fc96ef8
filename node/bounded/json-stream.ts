// Streaming a JSON file item by item: a top-level array is split into its items while the file is
// read in 1 MiB chunks, and each item is parsed on its own (bounded by maxItemChars and the JSON
// limits). A top-level object is one item. Memory stays at one chunk plus one item, whatever the
// file holds. jsonHandleItems reads an already opened file from its start (positional reads), so a
// caller can check a file in one pass and act on it in a second over the same descriptor.
import type { FileHandle } from 'node:fs/promises';
import { openBoundedFile, mib, type BoundedFileOptions } from './file.ts';
import { InputError } from './input-error.ts';
import { JsonScanner, parseJsonText, type JsonLimits } from './json.ts';

export interface JsonItemsOptions extends BoundedFileOptions {
  /** Largest item, in characters. */
  maxItemChars: number;
  /** Most items in the array. */
  maxItems: number;
  limits?: Partial<JsonLimits>;
}

export interface JsonItem {
  /** Position in the top-level array, or -1 when the file holds one object. */
  index: number;
  value: unknown;
}

const CHUNK = 1024 * 1024;

/** Yields the items of a top-level array (or the single top-level object) of the file at `path`. */
export async function* jsonFileItems(path: string, o: JsonItemsOptions): AsyncGenerator<JsonItem> {
  const { fh } = await openBoundedFile(path, o);
  try {
    yield* jsonHandleItems(fh, `${o.what} ${path}`, o);
  } finally {
    await fh.close();
  }
}

/**
 * jsonFileItems over an open file (from openBoundedFile), read from offset 0; `what` names it in
 * errors. `onBytes` sees every byte read, in order (e.g. to hash the file).
 */
export async function* jsonHandleItems(fh: FileHandle, what: string, o: JsonItemsOptions, onBytes?: (b: Uint8Array) => void): AsyncGenerator<JsonItem> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const buf = Buffer.allocUnsafe(CHUNK);
  let scanner: JsonScanner | undefined;
  let single: string[] | null = null; // top-level object: collected whole
  let singleChars = 0;
  let parts: string[] = [];
  let partChars = 0;
  let inItem = false;
  let index = 0;
  let total = 0;
  let sawRoot = false;
  const take = (s: string) => {
    partChars += s.length;
    if (partChars > o.maxItemChars) throw new InputError(`${what}: $[${index}]: an item longer than ${mib(o.maxItemChars)} characters`);
    parts.push(s);
  };
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, CHUNK, total);
    total += bytesRead;
    if (total > o.maxBytes) throw new InputError(`${what} changed size while being read (limit ${mib(o.maxBytes)})`);
    if (bytesRead > 0) onBytes?.(buf.subarray(0, bytesRead));
    let text: string;
    try {
      text = decoder.decode(buf.subarray(0, bytesRead), { stream: bytesRead > 0 });
    } catch {
      throw new InputError(`${what} is not valid UTF-8 text (at or before byte ${total})`);
    }
    if (!sawRoot) {
      const first = text.search(/\S/);
      if (first === -1) {
        if (bytesRead === 0) break;
        continue;
      }
      sawRoot = true;
      text = text.slice(first);
      if (text[0] === '{') {
        single = [];
        scanner = new JsonScanner(what, o.limits);
      } else if (text[0] === '[') {
        scanner = new JsonScanner(what, o.limits, { splitItems: true });
      } else {
        throw new InputError(`${what}: expected a JSON object or an array of objects, found ${JSON.stringify(text[0])}`);
      }
    }
    if (single) {
      scanner!.feed(text);
      singleChars += text.length;
      if (singleChars > o.maxItemChars) throw new InputError(`${what}: $: an object longer than ${mib(o.maxItemChars)} characters`);
      single.push(text);
    } else if (text.length > 0) {
      // One item at a time: scan up to the end of the next item, hand it out, go on.
      let pos = 0;
      let from = 0;
      while (pos < text.length) {
        const { events, next } = scanner!.scan(text, pos, true);
        for (const ev of events) {
          if (ev.type === 'start') {
            inItem = true;
            from = ev.at;
            if (index >= o.maxItems) throw new InputError(`${what}: more than ${o.maxItems} items`);
          } else {
            take(text.slice(from, ev.at));
            const itemText = parts.join('');
            parts = [];
            partChars = 0;
            inItem = false;
            yield { index, value: parseJsonText(itemText, `${what} item ${index}`) };
            index++;
          }
        }
        pos = next;
      }
      if (inItem) take(text.slice(from));
    }
    if (bytesRead === 0) break;
  }
  if (!sawRoot) throw new InputError(`${what} is empty; expected a JSON object or an array of objects`);
  if (single) {
    yield { index: -1, value: parseJsonText(single.join(''), what) };
    return;
  }
  if (inItem || scanner!.depth !== 0) throw new InputError(`${what} ends inside the top-level array (truncated?)`);
}
