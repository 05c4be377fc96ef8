// The node's adapters assembled by `conclave start` around the run loop's ports: the archive behind
// ArchivePort (best effort) and the debug log of gossip messages the loop receives.
import type { ArchivePort, Logger, MeshPort } from '../validator/ports.ts';
import type { Archive } from '../archive.ts';
import { archiveCertifiedRun, archiveReveal } from '../validator/evidence.ts';

/** The loop's ArchivePort over node/archive.ts (best effort: the archive refusing never stops a run). */
export function archivePort(archive: Archive, netuid: number, log: Logger): ArchivePort {
  const proofs = archive.kv('consensus-equivocations');
  return {
    putSignedReport: async (signed) => {
      const r = await archive.putReport(signed, { verified: true }); // the loop verified it (ArchivePort contract)
      if (r.status === 'equivocation') log.warn('equivocation archived', { runId: signed.report.runId, validator: signed.report.validatorHotkey });
    },
    putCertificate: async (runId, bytes) => {
      const r = await archive.putCertificate({ netuid, runId }, bytes);
      if (r === 'conflict') log.warn('a different certificate for this run is already archived (first wins)', { runId });
    },
    // the first proof of a (subnet, run, validator) is kept; a later one never replaces it
    putEquivocation: async (runId, hotkey, proofHex) => {
      await proofs.putIfAbsent(`${netuid}/${runId}/${hotkey}`, { netuid, runId, hotkey, proofHex });
    },
    putReveal: async (reveal, block) => {
      const status = await archiveReveal(archive, reveal, block === undefined ? {} : { block });
      if (status === 'equivocation') log.warn('equivocation archived', { runId: reveal.signed.report.runId, validator: reveal.signed.report.validatorHotkey });
    },
    putCertifiedRun: async (runId, certified) => {
      const r = await archiveCertifiedRun(archive, { netuid, runId }, certified);
      if (r === 'conflict') log.warn('a different certificate for this run is already archived (first wins)', { runId });
    },
    putEvaluation: (code, record) => archive.putEvaluation(code, record),
  };
}

/** At debug level, one line per gossip message the loop receives (kind, size, sender's node key). */
export function logMeshMessages(port: MeshPort, log: Logger & { enabled?(l: 'debug'): boolean }): MeshPort {
  if (!log.enabled?.('debug')) return port;
  return {
    ...port,
    onReport: (h) => port.onReport((bytes) => {
      log.debug('gossip report received', { bytes: bytes.length });
      h(bytes);
    }),
    onConsensus: (h) => port.onConsensus((bytes, from) => {
      log.debug('consensus message received', { bytes: bytes.length, fromNodeKey: from });
      h(bytes, from);
    }),
  };
}
