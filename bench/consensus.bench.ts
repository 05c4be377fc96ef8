// Consensus benchmark: one run's decision + certificate for 4, 16 and 64 members x 256 miners,
// every member running the real state machine with real sr25519 reports and ed25519 votes.
// Prints one JSON line per size: CPU ms per member per run, messages, signature verifications.
// Target: 64 x 256 under 1 s of CPU per member on the 2-core dev machine.
import { DEFAULT_SIM_OPTIONS, simulate } from '../consensus/sim/simulator.ts';

const RUNS = Number(process.env.CONSENSUS_BENCH_RUNS ?? 3);

for (const validators of [4, 16, 64]) {
  const r = await simulate({ ...DEFAULT_SIM_OPTIONS, validators, byzantine: 0, runs: RUNS, miners: 256, loss: 0, duplicate: 0, seed: 7 });
  process.stdout.write(
    JSON.stringify({
      bench: 'consensus.decision+certificate',
      members: validators,
      miners: 256,
      runs: r.runs,
      decided: r.decided,
      cpuMsPerMember: r.cpuMsPerMember,
      cpuMsPerMemberMax: r.cpuMsPerMemberMax,
      targetCpuMsPerMember: 1000,
      messagesPerRun: r.messagesPerRun,
      messagesByKindPerRun: Object.fromEntries(Object.entries(r.messagesByKind).map(([k, v]) => [k, v / r.runs])),
      signatureVerificationsPerMemberPerRun: r.verificationsPerMemberPerRun,
      sr25519PerMemberPerRun: r.sr25519Verifications / (validators * r.runs),
      ed25519PerMemberPerRun: r.ed25519Verifications / (validators * r.runs),
      verifyCostMs: r.verifyCostMs,
      simulatedLatencyMsP50: r.simulatedLatencyMs.p50,
      wallMs: r.wallMs,
    }) + '\n',
  );
}

// The adversarial mix at the scale, fewer runs than the CLI example to bound bench time.
const adv = await simulate({ ...DEFAULT_SIM_OPTIONS, validators: 64, byzantine: 21, runs: Number(process.env.CONSENSUS_BENCH_ADV_RUNS ?? 10), seed: 1 });
process.stdout.write(
  JSON.stringify({
    bench: 'consensus.sim-64x21-adversarial',
    runs: adv.runs,
    decided: adv.decided,
    safetyViolations: adv.safetyViolations,
    livenessFailures: adv.livenessFailures,
    messagesPerRun: adv.messagesPerRun,
    verificationsPerMemberPerRun: adv.verificationsPerMemberPerRun,
    cpuMsPerMember: adv.cpuMsPerMember,
    simulatedLatencyMs: adv.simulatedLatencyMs,
    wallMs: adv.wallMs,
  }) + '\n',
);
