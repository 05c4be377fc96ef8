// Adapters from the real parts to the run loop's seams: node/chain SubtensorClient → ChainPort,
// node/p2p Mesh → MeshPort. (The evaluator adapter over runtime/ lives in evaluator-adapter.ts.)
import type { SubtensorClient } from '../chain/client.ts';
import type { Mesh } from '../p2p/mesh.ts';
import { archiveRunBundleProvider } from '../p2p/run-bundle.ts';
import { archiveEvidenceReader, type EvidenceArchive } from './evidence.ts';
import type { Sr25519Signer } from '../../proto/signer.ts';
import type { ChainWriteResult } from '../chain/types.ts';
import { nextEpochAt, runStart } from '../chain/epoch-schedule.ts';
import { ChainWriteRefused, type ChainPort, type MeshPort } from './ports.ts';
import { sha256Hex } from '../../proto/codec.ts';
import { WIRE_VERSION } from '../../proto/consensus.ts';

/** proto/consensus.ts frames a reveal message as u8 wire version | u8 tag (1) | reveal bytes (to the end). */
const REVEAL_MESSAGE_HEADER = 2;
function isRevealMessage(bytes: Uint8Array): boolean {
  return bytes.length > REVEAL_MESSAGE_HEADER && bytes[0] === WIRE_VERSION && bytes[1] === 1;
}

function writeOk(r: ChainWriteResult, what: string): { block: number } {
  if (r.ok) return { block: r.block };
  throw new ChainWriteRefused(what, r.error);
}

export function chainPort(client: SubtensorClient, signer: Sr25519Signer, netuid: number): ChainPort {
  return {
    bestBlock: async () => (await client.bestBlock()).number,
    genesisHash: async () => client.api.genesisHash.toHex(),
    tempo: async () => (await client.hyperparams(netuid)).tempo,
    blockHash: (block) => client.blockHash(block),
    blockTimeMs: () => client.blockTimeMs(),
    epoch: async () => {
      const s = await client.epochSchedule(netuid);
      return { block: s.block, runStart: runStart(s), nextEpochAt: nextEpochAt(s), tempo: s.tempo, model: s.model };
    },
    metagraph: (at) => client.metagraph(netuid, at),
    minerRoster: async (at) => {
      const r = await client.minerRoster(netuid, at);
      return { entries: r.entries, skipped: r.skipped.map((s) => ({ uid: s.uid, reason: s.reason })) };
    },
    commitReportHash: async (runId, hash) => writeOk(await client.commitScoreHash(signer, netuid, runId, hash), 'score-hash commitment'),
    reportCommitments: (runId, at) => client.scoreCommitments(netuid, runId, at),
    setWeights: async (uids, weights) => {
      const r = await client.submitWeights(signer, netuid, uids, weights);
      const { block } = writeOk(r, r.ok && r.commit ? 'commit_timelocked_weights' : 'weights');
      return r.ok && r.commit ? { block, commit: r.commit } : { block };
    },
    confirmReveal: (commit) => client.confirmReveal(commit),
    findWeightsCommit: (block, uids, weights) => client.findWeightsCommit(netuid, signer.hotkey, block, uids, weights),
    weightsOf: async (hotkey, at) => (await client.weightsOf(netuid, hotkey, at)) ?? [],
    weightsOfMany: (hotkeys, at) => client.weightsOfMany(netuid, hotkeys, at),
    lastWeightsBlock: async (hotkey) => {
      const u = await client.lastWeightsUpdate(netuid, hotkey);
      return u && u.block > 0 ? u.block : null;
    },
    subnetOwnerHotkey: () => client.subnetOwnerHotkey(netuid),
    close: () => client.close(),
  };
}

export function meshPort(mesh: Mesh): MeshPort {
  let currentRun: number | undefined;
  return {
    publishReport: async (bytes) => {
      await mesh.publishReport(bytes);
    },
    onReport: (h) => mesh.onReport((m) => h(m.bytes)),
    // a message for one member goes to it alone (direct protocol; the consensus topic when it cannot)
    sendConsensus: async (to, bytes) => {
      // A broadcast reveal (a late one the protocol announces to all) that this node already gossiped
      // or received on the reports topic reached the mesh there: sending it again on the consensus
      // topic doubles the largest messages of a run. Reveals sent to one member (answers to a
      // request) still go.
      if (to === null && isRevealMessage(bytes) && mesh.holds(sha256Hex(bytes.subarray(REVEAL_MESSAGE_HEADER)))) return;
      if (to !== null) await mesh.sendConsensusTo(to, bytes, currentRun);
      else await mesh.publishConsensus(bytes, currentRun);
    },
    onConsensus: (h) =>
      mesh.onConsensus((m) => {
        currentRun = m.runId;
        if (m.signerHotkey) h(m.payload, m.signerNodeKey); // only signers bound to an admitted hotkey
      }),
    boundNodeKeys: () => mesh.bindings(),
    bindingRecords: () => mesh.bindingRecords(),
    peerCount: () => mesh.admittedPeerCount(),
    setRun: (runId) => {
      if (mesh.currentRun() !== runId) mesh.setCurrentRun(runId);
    },
    // an optimisation of the wire: a roster the mesh cannot take only means the run's reports travel whole
    knowRoster: (hash, roster) => {
      if (mesh.knowsRoster(hash)) return;
      try {
        mesh.knowRoster(roster);
      } catch {
        /* reports naming it are sent and received as signed (envelope v1) */
      }
    },
    // catch-up by the fetch protocol: what arrives is delivered through onReport like gossip
    fetchReports: async () => {
      await mesh.syncRun();
      return [];
    },
    close: () => mesh.stop(),
  };
}

/**
 * Serves this node's archived runs (reveals + certified run) on the read-only run-bundle protocol,
 * so that `conclave audit --source /ip4/.../tcp/PORT/p2p/PEER_ID` can re-verify a run from the mesh port.
 * Only what was revealed is in the archive: a sealed report never is. Call once after creating the mesh.
 */
export function serveRunBundles(mesh: Mesh, archive: EvidenceArchive): void {
  mesh.setRunBundleProvider(archiveRunBundleProvider(archiveEvidenceReader(archive)));
}
