// Several Docker engines, one scheduler: how a validator outgrows one machine. Each host has a
// concurrency (GPUs it may use at once); a job goes to the host with the most free slots, else waits
// in FIFO order for the first free slot.
import { readFileSync } from 'node:fs';
import Dockerode from 'dockerode';

export interface DockerHostConfig {
  name: string;
  /** unix socket, e.g. /var/run/docker.sock */
  socketPath?: string;
  /** tcp endpoint; with ca/cert/key files it is tcp+TLS (https) */
  host?: string;
  port?: number;
  tls?: { ca: string; cert: string; key: string };
  concurrency: number;
  /** GPUs of this host handed to sandbox containers ("all" or device ids); none = CPU. */
  gpus?: 'all' | string[];
  hardwareClass?: string;
}

export class DockerHostConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'DockerHostConfigError'; }
}

export function validateHostConfig(h: DockerHostConfig): DockerHostConfig {
  if (!h.name) throw new DockerHostConfigError('docker host: every entry needs a name');
  if (!!h.socketPath === !!h.host) throw new DockerHostConfigError(`docker host ${h.name}: set exactly one of socketPath or host`);
  if (h.host && !h.tls) throw new DockerHostConfigError(`docker host ${h.name}: a tcp endpoint needs tls {ca, cert, key}: an unauthenticated Docker API is root on that machine`);
  if (!Number.isInteger(h.concurrency) || h.concurrency < 1) throw new DockerHostConfigError(`docker host ${h.name}: concurrency must be an integer >= 1`);
  return h;
}

export function connectDockerHost(h: DockerHostConfig): Dockerode {
  validateHostConfig(h);
  if (h.socketPath) return new Dockerode({ socketPath: h.socketPath });
  const read = (p: string, what: string) => {
    try { return readFileSync(p); } catch (e) { throw new DockerHostConfigError(`docker host ${h.name}: cannot read TLS ${what} ${p}: ${(e as Error).message}`); }
  };
  return new Dockerode({
    protocol: 'https', host: h.host, port: h.port ?? 2376,
    ca: read(h.tls!.ca, 'ca'), cert: read(h.tls!.cert, 'cert'), key: read(h.tls!.key, 'key'),
  });
}

export interface ScheduledHost { config: DockerHostConfig; docker: Dockerode }

interface Slot { host: ScheduledHost; busy: number }

export class DockerScheduler {
  private slots: Slot[];
  private waiting: ((s: Slot) => void)[] = [];
  constructor(hosts: ScheduledHost[]) {
    if (hosts.length === 0) throw new DockerHostConfigError('docker hosts: the list is empty');
    this.slots = hosts.map((host) => ({ host: { config: validateHostConfig(host.config), docker: host.docker }, busy: 0 }));
  }

  static fromConfig(configs: DockerHostConfig[]): DockerScheduler {
    return new DockerScheduler(configs.map((config) => ({ config, docker: connectDockerHost(config) })));
  }

  /** The hosts with their connected clients, in configuration order. */
  hosts(): ScheduledHost[] {
    return this.slots.map((s) => s.host);
  }

  /** Per host: [name, busy, concurrency]. */
  load(): [string, number, number][] {
    return this.slots.map((s) => [s.host.config.name, s.busy, s.host.config.concurrency]);
  }

  private pick(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) {
      const free = s.host.config.concurrency - s.busy;
      if (free > 0 && (!best || free > best.host.config.concurrency - best.busy)) best = s;
    }
    return best;
  }

  /** Runs fn on a host with a free slot; the slot is released when fn settles. */
  async run<T>(fn: (host: ScheduledHost) => Promise<T>): Promise<T> {
    let slot = this.pick();
    if (slot) slot.busy++;
    else slot = await new Promise<Slot>((res) => this.waiting.push(res));
    try {
      return await fn(slot.host);
    } finally {
      const next = this.waiting.shift();
      if (next) next(slot); // hand the slot over directly: busy count unchanged
      else slot.busy--;
    }
  }
}
