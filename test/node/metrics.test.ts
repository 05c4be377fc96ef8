// Metrics kept elsewhere (the mesh counts its own gossip rejections) reach /metrics when scraped.
import assert from 'node:assert/strict';
import { nodeMetrics } from '../../node/metrics.ts';

describe('node/metrics: values copied in at scrape time', () => {
  it('a collector runs before every render and catchUp adds only what is new, label by label', () => {
    const m = nodeMetrics();
    const meshCounts: Record<string, number> = { 'bad-signature': 2, 'too-large': 0 };
    m.registry.onCollect(() => m.gossipRejections.catchUp('reason', meshCounts));
    m.gossipRejections.inc({ reason: 'inbox-full' }); // counted by the loop itself, untouched by catchUp
    assert.match(m.registry.render(), /conclave_gossip_rejections_total\{reason="bad-signature"\} 2\n/);
    meshCounts['bad-signature'] = 5;
    meshCounts['too-large'] = 1;
    const text = m.registry.render();
    assert.match(text, /conclave_gossip_rejections_total\{reason="bad-signature"\} 5\n/);
    assert.match(text, /conclave_gossip_rejections_total\{reason="too-large"\} 1\n/);
    assert.match(text, /conclave_gossip_rejections_total\{reason="inbox-full"\} 1\n/);
    assert.equal(m.registry.render(), text, 'rendering again with no new counts changes nothing');
  });

  it('a failing collector does not break the scrape', () => {
    const m = nodeMetrics();
    m.registry.onCollect(() => { throw new Error('mesh stopped'); });
    m.runsTotal.inc({ outcome: 'certified' });
    assert.match(m.registry.render(), /conclave_runs_total\{outcome="certified"\} 1/);
  });
});
