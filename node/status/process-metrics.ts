// The standard process metrics every Prometheus client library exports (names as prom-client / the Go
// client spell them, so existing dashboards and alerts work): CPU seconds, resident and virtual memory,
// open and maximum file descriptors, start time, heap; and Node's event-loop lag (delay of a 20 ms
// timer, as a per-scrape-window distribution: the loop blocked by a sync task shows up here first).
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Registry } from '../metrics.ts';

function openFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length - 1; // the directory handle readdir itself holds
  } catch {
    return null; // not Linux
  }
}

function maxFds(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function virtualMemory(): number | null {
  try {
    // /proc/self/stat field 23 (vsize, bytes); the command name (field 2) may contain spaces: split after ')'
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[20]);
  } catch {
    return null;
  }
}

/** Registers the process metrics on `reg`; their values are read at each scrape. Returns stop(). */
export function registerProcessMetrics(reg: Registry): () => void {
  const cpuUser = reg.counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.');
  const cpuSystem = reg.counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.');
  const cpu = reg.counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.');
  const rss = reg.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
  const vsz = reg.gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.');
  const fds = reg.gauge('process_open_fds', 'Number of open file descriptors.');
  const fdsMax = reg.gauge('process_max_fds', 'Maximum number of open file descriptors.');
  const start = reg.gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.');
  const heapUsed = reg.gauge('nodejs_heap_size_used_bytes', 'V8 heap in use, bytes.');
  const heapTotal = reg.gauge('nodejs_heap_size_total_bytes', 'V8 heap allocated, bytes.');
  const lagMean = reg.gauge('nodejs_eventloop_lag_mean_seconds', 'Mean event-loop lag since the previous scrape, seconds.');
  const lagP50 = reg.gauge('nodejs_eventloop_lag_p50_seconds', 'Median event-loop lag since the previous scrape, seconds.');
  const lagP99 = reg.gauge('nodejs_eventloop_lag_p99_seconds', '99th percentile event-loop lag since the previous scrape, seconds.');
  const lagMax = reg.gauge('nodejs_eventloop_lag_max_seconds', 'Largest event-loop lag since the previous scrape, seconds.');

  start.set(Math.round((Date.now() - performance.now()) / 1000));
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  reg.onCollect(() => {
    const u = process.cpuUsage();
    cpuUser.setTotal(u.user / 1e6);
    cpuSystem.setTotal(u.system / 1e6);
    cpu.setTotal((u.user + u.system) / 1e6);
    const mem = process.memoryUsage();
    rss.set(mem.rss);
    heapUsed.set(mem.heapUsed);
    heapTotal.set(mem.heapTotal);
    const v = virtualMemory();
    if (v !== null) vsz.set(v);
    const n = openFds();
    if (n !== null) fds.set(n);
    const m = maxFds();
    if (m !== null) fdsMax.set(m);
    if (loop.count > 0) {
      // the histogram measures the timer's delay including its 20 ms resolution period: subtract it
      const lag = (ns: number) => Math.max(0, ns / 1e9 - 0.02);
      lagMean.set(lag(loop.mean));
      lagP50.set(lag(loop.percentile(50)));
      lagP99.set(lag(loop.percentile(99)));
      lagMax.set(lag(loop.max));
      loop.reset();
    }
  });
  return () => loop.disable();
}
