// Validator configuration: one schema (key, type, default, env var, doc, check) drives
// loading, environment overrides, validation, the redacted log view and validator.example.toml.
//
// Rules:
// - every key has a default, so an empty file is a valid (shadow-mode, local-devchain) config;
// - an environment variable overrides the file (CONCLAVE_NETUID=7 beats chain.netuid);
// - secrets are never values in this file: only paths to files (keys ending in `_file`), read at
//   use, never logged;
// - a bad config is refused with the key and the reason (ConfigError.problems lists all of them).
//
// This file holds the schema, parsing with validation, and loading; beside it: config-coerce.ts
// (raw TOML/env values to each key's kind), config-suggest.ts ("did you mean …"), config-toml.ts
// (the effective config and validator.example.toml as text).
import { readBoundedFileSync, utf8Text } from './bounded/file.ts';

const MAX_CONFIG_BYTES = 1024 * 1024;
import { homedir } from 'node:os';
import { isIP } from 'node:net';
import { parse as parseToml } from 'smol-toml';
import { ENDPOINTS } from './chain/endpoints.ts';
import { bigintAsString } from './json-bigint.ts';
import { coerce } from './config-coerce.ts';
import { suggestKey, suggestSection } from './config-suggest.ts';
import { renderEffectiveToml, renderExampleToml } from './config-toml.ts';

export { closest } from './config-suggest.ts';

export type Mode = 'owner' | 'shadow' | 'decentralized';

export interface DockerHost {
  /** unix:///var/run/docker.sock or tcp://host:2376 */
  url: string;
  /** Concurrent evaluations on this host (GPUs, or CPU slots on a CPU host). */
  gpus: number;
  /** TLS material for tcp hosts: paths only (secrets live in files). */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface NodeConfig {
  chain: { endpoint: string; netuid: number };
  wallet: { name: string; hotkey: string; path: string; passwordFile: string };
  node: { dataDir: string; mode: Mode; logLevel: 'debug' | 'info' | 'warn' | 'error' };
  p2p: { listen: string; bootstrap: string[]; announceAxon: boolean; announceAddress: string };
  sandbox: { dockerHosts: DockerHost[]; hardwareClass: string; evaluationTimeoutS: number; image: string; policyFile: string };
  consensus: {
    burnUid: number;
    burnRate: number;
    dethroneMargin: number;
    quorum: number;
    minStake: bigint;
    commitWindowBlocks: number;
    revealWindowBlocks: number;
    consensusTimeoutS: number;
    viewTimeoutS: number;
    maxMissedReveals: number;
  };
  owner: { hotkey: string };
  /** Shadow-mode divergence window and the gate for switching shadow → decentralized (advice, served by the API). */
  shadow: { gateMinTop1: number; gateMinRho: number; gateMinOverlap: number; gateMinRuns: number; window: number };
  intake: { maxSubmissionBytes: number; fetchTimeoutS: number; devAllowLoopbackOrigins: string[] };
  api: { listen: string; rateLimitPerMinute: number; maxResponseBytes: number; cors: string };
  /** Prometheus metrics on their own listener (address '' = served on api.listen at /metrics). */
  metrics: { address: string };
  /** What /healthz requires (see node/status/health.ts). */
  health: { minPeers: number; maxHeadAgeS: number };
  dev: { fault: string };
}

export class ConfigError extends Error {
  readonly problems: { key: string; reason: string }[];
  /** the config file, when the problems come from one */
  readonly file: string | undefined;
  constructor(problems: { key: string; reason: string }[], file?: string) {
    super(`invalid config${file ? ` ${file}` : ''}:\n${problems.map((p) => `  ${p.key}: ${p.reason}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.file = file;
  }
}

export type Kind = 'string' | 'int' | 'number' | 'bool' | 'string[]' | 'bigint' | 'hosts';

export interface KeyDef {
  /** section.key in the TOML file */
  key: string;
  /** path in NodeConfig */
  path: [string, string];
  kind: Kind;
  env: string;
  def: unknown;
  doc: string;
  /** returns a reason when the (typed) value is unacceptable */
  check?: (v: any) => string | undefined;
}


const MODES: Mode[] = ['owner', 'shadow', 'decentralized'];

const between = (lo: number, hi: number) => (v: number) =>
  v >= lo && v <= hi ? undefined : `must be between ${lo} and ${hi}, got ${v}`;

export const SCHEMA: KeyDef[] = [
  { key: 'chain.endpoint', path: ['chain', 'endpoint'], kind: 'string', env: 'CONCLAVE_CHAIN_ENDPOINT', def: 'local',
    doc: 'Subtensor WebSocket endpoint: finney, test, local (ws://127.0.0.1:9944) or any ws:// / wss:// URL.',
    check: (v: string) => (ENDPOINTS[v] || /^wss?:\/\/[^\s]+$/.test(v) ? undefined : 'must be finney, test, local or a ws:// or wss:// URL') },
  { key: 'chain.netuid', path: ['chain', 'netuid'], kind: 'int', env: 'CONCLAVE_NETUID', def: 1,
    doc: 'Subnet id.', check: between(0, 65535) },
  { key: 'wallet.name', path: ['wallet', 'name'], kind: 'string', env: 'CONCLAVE_WALLET', def: 'default',
    doc: 'Bittensor wallet name (folder under wallet.path).', check: (v: string) => (/^[\w.-]+$/.test(v) ? undefined : 'letters, digits, . _ - only') },
  { key: 'wallet.hotkey', path: ['wallet', 'hotkey'], kind: 'string', env: 'CONCLAVE_HOTKEY', def: 'default',
    doc: 'Hotkey name inside the wallet (file <path>/<name>/hotkeys/<hotkey>).', check: (v: string) => (/^[\w.-]+$/.test(v) ? undefined : 'letters, digits, . _ - only') },
  { key: 'wallet.path', path: ['wallet', 'path'], kind: 'string', env: 'CONCLAVE_WALLET_PATH', def: '~/.bittensor/wallets',
    doc: 'Root of the standard Bittensor wallet layout.' },
  { key: 'wallet.password_file', path: ['wallet', 'passwordFile'], kind: 'string', env: 'CONCLAVE_WALLET_PASSWORD_FILE', def: '',
    doc: 'Path to a file holding the password of an encrypted hotkey (btcli created with a password; first line, mode 0600). Read only when the keyfile is encrypted; `conclave start --password-file` and the CONCLAVE_HOTKEY_PASSWORD variable take precedence. Never put the password itself here.' },
  { key: 'node.data_dir', path: ['node', 'dataDir'], kind: 'string', env: 'CONCLAVE_DATA_DIR', def: '~/.conclave',
    doc: 'LevelDB archive, run state, node key and caches live here.' },
  { key: 'node.mode', path: ['node', 'mode'], kind: 'string', env: 'CONCLAVE_MODE', def: 'shadow',
    doc: 'owner: set the weights the owner hotkey set; shadow: compute consensus, set the owner\'s pick, record divergence; decentralized: set the certified decision (hold the incumbent on a quorum miss).',
    check: (v: string) => (MODES.includes(v as Mode) ? undefined : `must be one of ${MODES.join(', ')}`) },
  { key: 'node.log_level', path: ['node', 'logLevel'], kind: 'string', env: 'CONCLAVE_LOG_LEVEL', def: 'info',
    doc: 'debug, info, warn or error.', check: (v: string) => (['debug', 'info', 'warn', 'error'].includes(v) ? undefined : 'must be debug, info, warn or error') },
  { key: 'p2p.listen', path: ['p2p', 'listen'], kind: 'string', env: 'CONCLAVE_P2P_LISTEN', def: '/ip4/0.0.0.0/tcp/30333',
    doc: 'libp2p listen multiaddr.', check: (v: string) => (/^\/ip[46]\/[^/]+\/tcp\/\d+$/.test(v) ? undefined : 'must look like /ip4/0.0.0.0/tcp/30333') },
  { key: 'p2p.bootstrap', path: ['p2p', 'bootstrap'], kind: 'string[]', env: 'CONCLAVE_BOOTSTRAP', def: [],
    doc: 'Bootstrap peers (multiaddrs with /p2p/<peer id>). Axon records on chain and the DHT are used as well. Env: comma-separated.',
    check: (v: string[]) => v.find((a) => !/^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d+\/p2p\/\w+$/.test(a)) ? 'every entry must be a multiaddr ending in /p2p/<peer id>' : undefined },
  { key: 'p2p.announce_axon', path: ['p2p', 'announceAxon'], kind: 'bool', env: 'CONCLAVE_ANNOUNCE_AXON', def: true,
    doc: 'Announce the p2p address on chain with serve_axon (at start and when it changes) so peers find this validator; peers dial the axons of permitted validators from the metagraph.' },
  { key: 'p2p.announce_address', path: ['p2p', 'announceAddress'], kind: 'string', env: 'CONCLAVE_ANNOUNCE_ADDRESS', def: '',
    doc: 'Address to announce as the axon: "ip" or "ip:port" (behind NAT: the public address and forwarded port). Empty = the listen address, or for a wildcard listen the first non-loopback interface address. Subtensor refuses 127.0.0.1 and ::1.',
    check: (v: string) => (v === '' || /^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:.]+)(:\d{1,5})?$/.test(v) ? undefined : 'must be an IP address with an optional :port, e.g. 203.0.113.7:30333') },
  { key: 'sandbox.docker_hosts', path: ['sandbox', 'dockerHosts'], kind: 'hosts', env: 'CONCLAVE_DOCKER_HOSTS',
    def: [{ url: 'unix:///var/run/docker.sock', gpus: 1 }],
    doc: 'Docker engines to evaluate on, each with its GPU count (= concurrent evaluations). TLS material by file path (ca_file, cert_file, key_file). Env: url=gpus pairs, comma-separated.' },
  { key: 'sandbox.hardware_class', path: ['sandbox', 'hardwareClass'], kind: 'string', env: 'CONCLAVE_HARDWARE_CLASS', def: 'cpu-2core',
    doc: 'Hardware class measured on, as named in the evaluator policy (cpu-2core, h100-sxm, h200); goes into every report; medians are only taken within one class.',
    check: (v: string) => (/^[a-z0-9][a-z0-9._-]{0,31}$/.test(v) ? undefined : 'lowercase letters, digits, . _ - (max 32)') },
  { key: 'sandbox.image', path: ['sandbox', 'image'], kind: 'string', env: 'CONCLAVE_SANDBOX_IMAGE', def: 'conclave-evaluator:cpu',
    doc: 'Evaluator image on every Docker host (build it with `conclave image`); its digest enters the policy hash.',
    check: (v: string) => (/^[a-z0-9][a-z0-9._\/-]*(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$/.test(v) ? undefined : 'must be an image reference like conclave-evaluator:cpu') },
  { key: 'sandbox.policy_file', path: ['sandbox', 'policyFile'], kind: 'string', env: 'CONCLAVE_EVALUATOR_POLICY', def: '',
    doc: 'Evaluator policy JSON (model, repetitions, thresholds, hardware classes); empty = the built-in runtime/evaluator-policy.json. Every validator of a subnet must use the same one (its hash is in every report).' },
  { key: 'sandbox.evaluation_timeout_s', path: ['sandbox', 'evaluationTimeoutS'], kind: 'int', env: 'CONCLAVE_EVALUATION_TIMEOUT_S', def: 600,
    doc: 'Wall-clock limit for one evaluation (container killed after it).', check: between(1, 86400) },
  { key: 'consensus.burn_uid', path: ['consensus', 'burnUid'], kind: 'int', env: 'CONCLAVE_BURN_UID', def: 0,
    doc: 'uid that receives the burned share of the weights.', check: between(0, 65535) },
  { key: 'consensus.burn_rate', path: ['consensus', 'burnRate'], kind: 'number', env: 'CONCLAVE_BURN_RATE', def: 0.95,
    doc: 'Share of weight given to the burn uid; the winner gets 1 - burn_rate.', check: between(0, 1) },
  { key: 'consensus.dethrone_margin', path: ['consensus', 'dethroneMargin'], kind: 'number', env: 'CONCLAVE_DETHRONE_MARGIN', def: 0.01,
    doc: 'Relative margin a challenger must beat the incumbent by (0.01 = 1 %).', check: between(0, 1) },
  { key: 'consensus.quorum', path: ['consensus', 'quorum'], kind: 'number', env: 'CONCLAVE_QUORUM', def: 2 / 3,
    doc: 'Share of voting power (stake) the counted reports must exceed; never below 1/2.', check: between(0.5, 1) },
  { key: 'consensus.min_stake', path: ['consensus', 'minStake'], kind: 'bigint', env: 'CONCLAVE_MIN_STAKE', def: 0n,
    doc: 'Minimum stake (rao, as a string or integer) for a permitted validator to be a consensus member.' },
  { key: 'consensus.commit_window_blocks', path: ['consensus', 'commitWindowBlocks'], kind: 'int', env: 'CONCLAVE_COMMIT_WINDOW_BLOCKS', def: 0,
    doc: 'Blocks after the run start (the block the subnet\'s epoch fired at) during which report hashes are committed on chain; reports are published only after it closes. 0 = 5/12 of the subnet\'s tempo (150 at tempo 360). The node refuses to start when commit + reveal window leave less than a tenth of the tempo for consensus and weights.', check: between(0, 100000) },
  { key: 'consensus.reveal_window_blocks', path: ['consensus', 'revealWindowBlocks'], kind: 'int', env: 'CONCLAVE_REVEAL_WINDOW_BLOCKS', def: 0,
    doc: 'Blocks after the commit window during which reports are published and collected before consensus starts. 0 = 1/6 of the subnet\'s tempo (60 at tempo 360).', check: between(0, 100000) },
  { key: 'consensus.consensus_timeout_s', path: ['consensus', 'consensusTimeoutS'], kind: 'int', env: 'CONCLAVE_CONSENSUS_TIMEOUT_S', def: 600,
    doc: 'Give up on a certificate for a run after this long (quorum miss: the mode\'s quorum-miss weights, e.g. incumbent held). The node never gives up before every member has had its view as proposer (n views of view_timeout_s, backoff capped at 4x): the larger of the two applies, but never past the chain deadline, the block at which the next run\'s consensus starts (next epoch + its commit and reveal windows).', check: between(1, 86400) },
  { key: 'consensus.view_timeout_s', path: ['consensus', 'viewTimeoutS'], kind: 'int', env: 'CONCLAVE_VIEW_TIMEOUT_S', def: 30,
    doc: 'PBFT base view-change timeout (a silent proposer is replaced after this; view v waits view_timeout_s x 2^min(v, 2)). The node warns when one view per member does not fit the epoch after the reveal window, and names the largest value that does (64 validators on a 72 min finney epoch: 7).', check: between(1, 3600) },
  { key: 'consensus.max_missed_reveals', path: ['consensus', 'maxMissedReveals'], kind: 'int', env: 'CONCLAVE_MAX_MISSED_REVEALS', def: 3,
    doc: 'Subnet rule (the same on every validator, like quorum): a validator whose commitment went unrevealed (or uncounted) this many certified runs in a row sits out the next run: its report is not counted and its stake leaves the counting power. 0 never excludes.', check: between(0, 1000) },
  { key: 'owner.hotkey', path: ['owner', 'hotkey'], kind: 'string', env: 'CONCLAVE_OWNER_HOTKEY', def: '',
    doc: 'SS58 hotkey of the subnet owner\'s validator whose weights owner/shadow modes follow (empty: read the subnet owner from chain).',
    check: (v: string) => (v === '' || /^[1-9A-HJ-NP-Za-km-z]{46,48}$/.test(v) ? undefined : 'must be an SS58 address or empty') },
  { key: 'shadow.gate_min_top1', path: ['shadow', 'gateMinTop1'], kind: 'number', env: 'CONCLAVE_GATE_MIN_TOP1', def: 0.9,
    doc: 'Divergence gate (shadow → decentralized): minimum share of runs in the window whose certified winner is the owner\'s pick. Served as gate.minTop1 by GET /v1/consensus/divergence; the dashboard shows pass/fail. Advice only: the mode switch stays a config change.',
    check: between(0, 1) },
  { key: 'shadow.gate_min_rho', path: ['shadow', 'gateMinRho'], kind: 'number', env: 'CONCLAVE_GATE_MIN_RHO', def: 0.8,
    doc: 'Divergence gate: minimum mean Spearman rank correlation between consensus scores and the owner\'s weights (gate.minRho).', check: between(-1, 1) },
  { key: 'shadow.gate_min_overlap', path: ['shadow', 'gateMinOverlap'], kind: 'number', env: 'CONCLAVE_GATE_MIN_OVERLAP', def: 0.8,
    doc: 'Divergence gate: minimum mean top-k overlap (k = miners the owner rewards) (gate.minOverlap).', check: between(0, 1) },
  { key: 'shadow.gate_min_runs', path: ['shadow', 'gateMinRuns'], kind: 'int', env: 'CONCLAVE_GATE_MIN_RUNS', def: 10,
    doc: 'Divergence gate: minimum number of runs in the window before the gate can pass (gate.minRuns); at most shadow.window.', check: between(1, 500) },
  { key: 'shadow.window', path: ['shadow', 'window'], kind: 'int', env: 'CONCLAVE_DIVERGENCE_WINDOW', def: 50,
    doc: 'Runs in the divergence window: the default of GET /v1/consensus/divergence (?window= overrides it per request).', check: between(1, 500) },
  { key: 'intake.max_submission_bytes', path: ['intake', 'maxSubmissionBytes'], kind: 'int', env: 'CONCLAVE_MAX_SUBMISSION_BYTES', def: 500_000,
    doc: 'Size cap for a fetched submission.', check: between(1, 100_000_000) },
  { key: 'intake.fetch_timeout_s', path: ['intake', 'fetchTimeoutS'], kind: 'int', env: 'CONCLAVE_FETCH_TIMEOUT_S', def: 30,
    doc: 'Total timeout for fetching one submission.', check: between(1, 3600) },
  { key: 'intake.dev_allow_loopback_origins', path: ['intake', 'devAllowLoopbackOrigins'], kind: 'string[]', env: 'CONCLAVE_DEV_ALLOW_LOOPBACK_ORIGINS', def: [],
    doc: 'DEV/TEST ONLY: exact loopback origins (http://127.0.0.1:PORT) submissions may be fetched from. Refused unless chain.endpoint is a loopback devchain; redirects to any other loopback origin are still refused.',
    check: (v: string[]) => v.find((o) => !/^http:\/\/(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]):\d{1,5}$/.test(o)) ? 'every entry must be an exact origin like http://127.0.0.1:8000 (no path)' : undefined },
  { key: 'api.listen', path: ['api', 'listen'], kind: 'string', env: 'CONCLAVE_API_LISTEN', def: '127.0.0.1:8080',
    doc: 'Read-only HTTP API address (host:port; empty string disables it).',
    check: (v: string) => (v === '' || parseHostPort(v) ? undefined : 'must be host:port, e.g. 127.0.0.1:8080') },
  { key: 'api.rate_limit_per_minute', path: ['api', 'rateLimitPerMinute'], kind: 'int', env: 'CONCLAVE_API_RATE_LIMIT', def: 600,
    doc: 'Requests per minute per client address.', check: between(1, 1_000_000) },
  { key: 'api.max_response_bytes', path: ['api', 'maxResponseBytes'], kind: 'int', env: 'CONCLAVE_API_MAX_RESPONSE_BYTES', def: 4_000_000,
    doc: 'Largest response body; lists are paged to stay below it.', check: between(1024, 100_000_000) },
  { key: 'api.cors_origin', path: ['api', 'cors'], kind: 'string', env: 'CONCLAVE_API_CORS_ORIGIN', def: '',
    doc: 'Access-Control-Allow-Origin value; empty = no CORS header (default).' },
  { key: 'metrics.address', path: ['metrics', 'address'], kind: 'string', env: 'CONCLAVE_METRICS_ADDRESS', def: '',
    doc: 'Serve Prometheus /metrics (and /healthz) on their own host:port, e.g. 127.0.0.1:9615, so the public API and the metrics can be firewalled apart; /metrics then leaves api.listen. Empty = /metrics on api.listen.',
    check: (v: string) => (v === '' || parseHostPort(v) ? undefined : 'must be host:port, e.g. 127.0.0.1:9615, or empty') },
  { key: 'health.min_peers', path: ['health', 'minPeers'], kind: 'int', env: 'CONCLAVE_HEALTH_MIN_PEERS', def: 1,
    doc: '/healthz is degraded with fewer admitted validator peers than this (capped at the other validators the subnet has). 0 = this validator runs alone.', check: between(0, 256) },
  { key: 'health.max_head_age_s', path: ['health', 'maxHeadAgeS'], kind: 'int', env: 'CONCLAVE_HEALTH_MAX_HEAD_AGE_S', def: 120,
    doc: '/healthz is degraded when the best block has not advanced for this many seconds (finney: 12 s blocks).', check: between(5, 86400) },
  { key: 'dev.fault', path: ['dev', 'fault'], kind: 'string', env: 'CONCLAVE_DEV_FAULT', def: '',
    doc: 'TEST ONLY, local devchain only: make this validator misbehave to exercise the others (inflate:<uid>:<factor> | mismatch-report | silent | adversary: selective proposals, see npm run devnet -- --byzantine). Empty = honest.',
    check: (v: string) => (v === '' || /^(inflate:\d+:\d+(\.\d+)?|mismatch-report|silent|adversary)$/.test(v) ? undefined : 'must be empty, inflate:<uid>:<factor>, mismatch-report, silent or adversary') },
];

export function parseHostPort(v: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** True when the endpoint is a devchain/test chain on this machine (the only place dev allowances are accepted). */
export function isLoopbackEndpoint(endpoint: string): boolean {
  try {
    const host = new URL(ENDPOINTS[endpoint] ?? endpoint).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  } catch {
    return false;
  }
}

export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p;
}

function defaults(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const d of SCHEMA) {
    (out[d.path[0]] ??= {})[d.path[1]] = structuredClone(d.def);
  }
  return out;
}

export interface LoadOptions {
  /** Environment to read overrides from (default process.env). */
  env?: Record<string, string | undefined>;
  /** The file the text came from (named in errors). */
  path?: string;
}

/** Where each key's effective value came from: the file, an environment variable, or the default. */
export type ConfigSource = 'file' | 'default' | `env:${string}`;
const SOURCES = new WeakMap<NodeConfig, Record<string, ConfigSource>>();

export function configSources(c: NodeConfig): Record<string, ConfigSource> {
  return SOURCES.get(c) ?? {};
}

/** A TOML syntax error as "line L, column C: reason" plus the offending line. */
function tomlSyntaxProblem(err: Error & { line?: number; column?: number }, text: string): string {
  const reason = err.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
  if (typeof err.line !== 'number') return `not valid TOML: ${reason}`;
  const src = text.split(/\r?\n/)[err.line - 1];
  return `not valid TOML at line ${err.line}, column ${err.column ?? '?'}: ${reason}${src !== undefined ? ` (line ${err.line}: ${JSON.stringify(src.trim().slice(0, 120))})` : ''}`;
}

/** Parse + validate a TOML document (string). Throws ConfigError listing every problem. */
export function parseConfig(tomlText: string, opts: LoadOptions = {}): NodeConfig {
  const env = opts.env ?? process.env;
  const problems: { key: string; reason: string }[] = [];
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(tomlText) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError([{ key: opts.path ?? '(file)', reason: tomlSyntaxProblem(err as Error, tomlText) }], opts.path);
  }
  const cfg = defaults();
  const known = new Set(SCHEMA.map((d) => d.key));
  const sections = [...new Set(SCHEMA.map((d) => d.path[0]))];
  for (const [section, body] of Object.entries(doc)) {
    if (!sections.includes(section)) {
      problems.push({ key: section, reason: `unknown section (known: ${sections.join(', ')})${suggestSection(SCHEMA, sections, section)}` });
      continue;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) { problems.push({ key: section, reason: 'must be a table [section]' }); continue; }
    for (const k of Object.keys(body)) {
      if (!known.has(`${section}.${k}`)) problems.push({ key: `${section}.${k}`, reason: `unknown key${suggestKey(SCHEMA, section, k)} (every key: validator.example.toml)` });
    }
  }
  const sources: Record<string, ConfigSource> = {};
  for (const d of SCHEMA) {
    const [section, name] = d.key.split('.');
    const fileVal = (doc[section] as Record<string, unknown> | undefined)?.[name];
    const envVal = env[d.env];
    const fromEnv = envVal !== undefined && envVal !== '';
    const raw = fromEnv ? envVal : fileVal;
    if (raw === undefined) { sources[d.key] = 'default'; continue; }
    const where = fromEnv ? `${d.key} (from ${d.env})` : d.key;
    const c = coerce(d, raw, fromEnv);
    if (c.reason) { problems.push({ key: where, reason: c.reason }); continue; }
    const why = d.check?.(c.value);
    if (why) { problems.push({ key: where, reason: why }); continue; }
    cfg[d.path[0]][d.path[1]] = c.value;
    sources[d.key] = fromEnv ? `env:${d.env}` : 'file';
  }
  const out = cfg as unknown as NodeConfig;
  if (problems.length === 0) crossChecks(out, problems);
  if (problems.length) throw new ConfigError(problems, opts.path);
  out.wallet.path = expandHome(out.wallet.path);
  out.node.dataDir = expandHome(out.node.dataDir);
  SOURCES.set(out, sources);
  return out;
}

function crossChecks(c: NodeConfig, problems: { key: string; reason: string }[]): void {
  if (c.intake.devAllowLoopbackOrigins.length > 0 && !isLoopbackEndpoint(c.chain.endpoint)) {
    problems.push({ key: 'intake.dev_allow_loopback_origins', reason: `a loopback fetch allowance is for a local devchain only; chain.endpoint '${c.chain.endpoint}' is not loopback — remove the allowance` });
  }
  if (c.dev.fault !== '' && !isLoopbackEndpoint(c.chain.endpoint)) {
    problems.push({ key: 'dev.fault', reason: 'fault injection is for a local devchain only — remove it' });
  }
  if (c.metrics.address !== '' && c.metrics.address === c.api.listen) {
    problems.push({ key: 'metrics.address', reason: `is the same address as api.listen (${c.api.listen}); give the metrics another port, or leave metrics.address empty to serve /metrics on the API` });
  }
  if (c.shadow.gateMinRuns > c.shadow.window) {
    problems.push({ key: 'shadow.gate_min_runs', reason: `${c.shadow.gateMinRuns} is more than shadow.window (${c.shadow.window}): the gate could never pass — lower it or widen the window` });
  }
  for (const h of c.sandbox.dockerHosts) {
    if (h.url.startsWith('tcp://') && !(h.caFile && h.certFile && h.keyFile) && !isLoopbackEndpoint('ws://' + h.url.slice(6))) {
      problems.push({ key: 'sandbox.docker_hosts', reason: `${h.url}: a remote Docker host needs TLS (ca_file, cert_file, key_file)` });
    }
  }
}

export function loadConfigFile(path: string, opts: LoadOptions = {}): NodeConfig {
  let text: string;
  try {
    // a regular file of at most 1 MiB (a FIFO or /dev/zero must not hang or exhaust the loader)
    text = utf8Text(readBoundedFileSync(path, { maxBytes: MAX_CONFIG_BYTES, what: 'config' }), `config ${path}`);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file (start from validator.example.toml)' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : code ?? (err as Error).message.replace(/^config \S+ /, '');
    throw new ConfigError([{ key: '(file)', reason: `cannot read ${path}: ${why}` }], path);
  }
  return parseConfig(text, { ...opts, path });
}

/** A copy safe to log: `*_file` secret paths are shown as set/unset only; bigints as strings. */
export function redactedConfig(c: NodeConfig): Record<string, unknown> {
  const out = JSON.parse(JSON.stringify(c, bigintAsString)) as Record<string, any>;
  out.wallet.passwordFile = c.wallet.passwordFile ? '(set)' : '';
  out.sandbox.dockerHosts = c.sandbox.dockerHosts.map((h) => ({ url: h.url, gpus: h.gpus, tls: Boolean(h.keyFile) }));
  return out;
}

/** Read a secret from a file named by a `_file` key; trailing newline stripped. */
export function readSecretFile(path: string, key: string): string {
  try {
    return readBoundedFileSync(expandHome(path), { maxBytes: 64 * 1024, what: 'secret file' }).toString('utf8').replace(/\r?\n$/, '');
  } catch (err) {
    // the reason never quotes the file (a secret); too big or not a regular file is said as such
    const e = err as NodeJS.ErrnoException;
    const why = e.code ?? (/over the limit/.test(e.message) ? 'larger than 64 KiB' : / is (a |not a regular)/.test(e.message) ? 'not a regular file' : 'error');
    throw new ConfigError([{ key, reason: `cannot read secret file: ${why}` }]);
  }
}

/** The divergence gate as the API serves it (`gate` of GET /v1/consensus/divergence; read by the dashboard). */
export function divergenceGate(c: NodeConfig): { minTop1: number; minRho: number; minOverlap: number; minRuns: number } {
  return { minTop1: c.shadow.gateMinTop1, minRho: c.shadow.gateMinRho, minOverlap: c.shadow.gateMinOverlap, minRuns: c.shadow.gateMinRuns };
}

/** Total evaluation slots (GPUs across Docker hosts): the evaluation queue's concurrency. */
export function evaluationConcurrency(c: NodeConfig): number {
  return c.sandbox.dockerHosts.reduce((a, h) => a + h.gpus, 0);
}

/**
 * The effective config as TOML with the file's key names (what `conclave start --print-config` prints):
 * every key, its value after environment overrides and defaults, and where it came from. Secret-file
 * paths are shown only as set/unset, like in the logs.
 */
export function effectiveToml(c: NodeConfig): string {
  return renderEffectiveToml(SCHEMA, configSources(c), c);
}

/** The documented example file, generated from the schema (validator.example.toml is this text). */
export function exampleToml(): string {
  return renderExampleToml(SCHEMA);
}
