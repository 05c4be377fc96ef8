// /healthz semantics (pure): a validator is healthy only when it
//   1. follows the chain — the endpoint answers and the best block advanced within `maxHeadAgeMs`;
//   2. is in the mesh — at least `minPeers` admitted peers, unless it is configured alone
//      (health.min_peers = 0) or the validator set has nobody else to admit;
//   3. takes part in runs — it has a run record for the current epoch or the previous one (a run it
//      sat out because it joined late counts: it is following the epochs).
// Anything else is "degraded" (HTTP 503) with every reason in the body, so a probe or an operator
// sees what to fix without reading logs.

export interface HealthInput {
  now: number;
  chain: {
    connected: boolean;
    head: number | null;
    finalized: number | null;
    /** when the best block last advanced (ms), null before the first block */
    headAdvancedAt: number | null;
    /** the last chain error, if the last read failed */
    error: string | null;
  };
  peers: {
    admitted: number;
    connected: number;
    /** health.min_peers (0 = configured alone) */
    minPeers: number;
    /** other members of the validator set, when known (null: not known yet) */
    others: number | null;
  };
  run: {
    /** start block of the epoch in progress (null until the first tick) */
    currentEpoch: number | null;
    /** blocks per epoch (tempo + 1), null until known */
    epochBlocks: number | null;
    latest: { runId: number; phase: string; updatedAt: number; skipped: boolean } | null;
    /** the run loop's last tick error, if any */
    tickError: string | null;
  };
  maxHeadAgeMs: number;
}

export interface Health {
  ok: boolean;
  status: 'ok' | 'degraded';
  reasons: string[];
  checks: {
    chain: { ok: boolean; connected: boolean; head: number | null; finalized: number | null; headAgeS: number | null; error: string | null };
    peers: { ok: boolean; admitted: number; connected: number; required: number };
    run: { ok: boolean; runId: number | null; phase: string | null; currentEpoch: number | null; error: string | null };
  };
}

export function evaluateHealth(x: HealthInput): Health {
  const reasons: string[] = [];
  const headAge = x.chain.headAdvancedAt === null ? null : Math.max(0, x.now - x.chain.headAdvancedAt);
  let chainOk = true;
  if (!x.chain.connected) {
    chainOk = false;
    reasons.push(`chain: not connected${x.chain.error ? ` (${x.chain.error})` : ''}`);
  } else if (x.chain.head === null || headAge === null) {
    chainOk = false;
    reasons.push('chain: no block seen yet');
  } else if (headAge > x.maxHeadAgeMs) {
    chainOk = false;
    reasons.push(`chain: best block ${x.chain.head} has not advanced for ${Math.round(headAge / 1000)} s (limit ${Math.round(x.maxHeadAgeMs / 1000)} s): is the node syncing or stalled?`);
  }

  const required = Math.max(0, Math.min(x.peers.minPeers, x.peers.others ?? x.peers.minPeers));
  const peersOk = x.peers.admitted >= required;
  if (!peersOk) {
    reasons.push(`peers: ${x.peers.admitted} admitted validator peer(s), ${required} required (${x.peers.connected} connection(s) open): check p2p.listen is reachable and p2p.bootstrap; set health.min_peers = 0 for a validator that runs alone`);
  }

  const latest = x.run.latest;
  let runOk = true;
  if (latest === null) {
    runOk = false;
    reasons.push('run: no run yet (the node has not completed a tick with the chain)');
  } else if (x.run.currentEpoch !== null && x.run.epochBlocks !== null && latest.runId < x.run.currentEpoch - x.run.epochBlocks) {
    runOk = false;
    reasons.push(`run: the latest run is ${latest.runId}, more than one epoch behind the current epoch ${x.run.currentEpoch}`);
  }
  if (x.run.tickError) reasons.push(`run loop: ${x.run.tickError}`);
  const tickOk = x.run.tickError === null;

  const ok = chainOk && peersOk && runOk && tickOk;
  return {
    ok,
    status: ok ? 'ok' : 'degraded',
    reasons,
    checks: {
      chain: { ok: chainOk, connected: x.chain.connected, head: x.chain.head, finalized: x.chain.finalized, headAgeS: headAge === null ? null : Math.round(headAge / 100) / 10, error: x.chain.error },
      peers: { ok: peersOk, admitted: x.peers.admitted, connected: x.peers.connected, required },
      run: { ok: runOk && tickOk, runId: latest?.runId ?? null, phase: latest ? (latest.skipped ? 'skipped' : latest.phase) : null, currentEpoch: x.run.currentEpoch, error: x.run.tickError },
    },
  };
}
