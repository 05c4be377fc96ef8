// Prometheus metrics on their own address (config metrics.address), so the public read-only API and
// the operator's monitoring can be firewalled apart, as consensus clients do (Lighthouse --metrics-address,
// Prysm --monitoring-host). Serves GET/HEAD /metrics and /healthz; everything else is 404.
import type { NodeMetrics } from '../metrics.ts';
import { ApiServer } from './server.ts';
import { metricsResult } from './routes.ts';

export function buildMetricsServer(metrics: NodeMetrics, health: () => Promise<{ ok: boolean }>): ApiServer {
  // a scraper every few seconds, a probe or two: generous per-client limit, small bodies
  const server = new ApiServer({ rateLimitPerMinute: 1200, maxResponseBytes: 16_000_000, cors: '', metrics });
  server.route('/metrics', () => metricsResult(metrics));
  server.route('/healthz', async () => {
    const h = await health();
    return { status: h.ok ? 200 : 503, body: h };
  });
  return server;
}
