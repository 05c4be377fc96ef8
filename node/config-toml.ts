// The config as TOML text: the effective config (`conclave start --print-config`) and the
// documented example file (validator.example.toml), both rendered from the schema. Pure; the
// schema and the value sources are passed in (./config.ts wraps these for its callers).
import type { ConfigSource, DockerHost, KeyDef, NodeConfig } from './config.ts';

function tomlValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return JSON.stringify(v.toString());
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(6)));
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    if (v.length && typeof v[0] === 'object') {
      return '[\n' + v.map((h: DockerHost) => `  { url = ${JSON.stringify(h.url)}, gpus = ${h.gpus} },`).join('\n') + '\n]';
    }
    return '[' + v.map((x) => JSON.stringify(x)).join(', ') + ']';
  }
  throw new Error(`no TOML form for ${typeof v}`);
}

/** The effective config as TOML with the file's key names; see effectiveToml in ./config.ts. */
export function renderEffectiveToml(schema: readonly KeyDef[], src: Record<string, ConfigSource>, c: NodeConfig): string {
  let out = '# Effective Conclave config: every key with the value the node uses and where it came from.\n';
  let section = '';
  for (const d of schema) {
    const [s, name] = d.key.split('.');
    if (s !== section) { out += `\n[${s}]\n`; section = s; }
    let v = (c as unknown as Record<string, Record<string, unknown>>)[d.path[0]][d.path[1]];
    const from = src[d.key] ?? 'default';
    let note = from === 'file' ? 'from the file' : from === 'default' ? 'default' : `from ${from.slice(4)}`;
    if (d.key.endsWith('_file') && v !== '') { v = '(set)'; note += '; path not shown'; }
    if (d.kind === 'hosts') {
      v = (v as DockerHost[]).map((h) => ({ ...h, ...(h.keyFile ? { keyFile: '(set)', certFile: '(set)', caFile: '(set)' } : {}) }));
      out += `${name} = ${tomlHosts(v as DockerHost[])}  # ${note}\n`;
      continue;
    }
    out += `${name} = ${tomlValue(v)}  # ${note}\n`;
  }
  return out;
}

function tomlHosts(hosts: DockerHost[]): string {
  const one = (h: DockerHost) => `{ url = ${JSON.stringify(h.url)}, gpus = ${h.gpus}${h.caFile ? `, ca_file = ${JSON.stringify(h.caFile)}, cert_file = ${JSON.stringify(h.certFile)}, key_file = ${JSON.stringify(h.keyFile)}` : ''} }`;
  return `[ ${hosts.map(one).join(', ')} ]`;
}

/** The documented example file; see exampleToml in ./config.ts. */
export function renderExampleToml(schema: readonly KeyDef[]): string {
  let out = '# Conclave validator configuration. Every key is shown with its default.\n';
  out += '# Environment variables (named on each key) override the file. Secrets are never values here:\n';
  out += '# only paths to files (keys ending in _file). Start with: conclave start --config validator.toml\n';
  let section = '';
  for (const d of schema) {
    const [s, name] = d.key.split('.');
    if (s !== section) { out += `\n[${s}]\n`; section = s; }
    out += `# ${d.doc}\n# env: ${d.env}\n${name} = ${tomlValue(d.def)}\n`;
  }
  return out;
}
