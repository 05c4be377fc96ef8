// A whole JSON file, bounded: regular file, size cap, UTF-8, limits scan, then JSON.parse.
import { readBoundedFile, readBoundedFileSync, utf8Text } from './file.ts';
import { parseJsonBounded, type JsonLimits } from './json.ts';

export interface JsonFileOptions {
  maxBytes: number;
  what: string;
  limits?: Partial<JsonLimits>;
}

export async function readJsonFileBounded(path: string, o: JsonFileOptions): Promise<unknown> {
  const bytes = await readBoundedFile(path, o);
  return parseJsonBounded(utf8Text(bytes, `${o.what} ${path}`), `${o.what} ${path}`, o.limits);
}

export function readJsonFileBoundedSync(path: string, o: JsonFileOptions): unknown {
  const bytes = readBoundedFileSync(path, o);
  return parseJsonBounded(utf8Text(bytes, `${o.what} ${path}`), `${o.what} ${path}`, o.limits);
}
