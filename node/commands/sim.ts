// `conclave sim`: the deterministic Byzantine simulator of the consensus protocol.
import { parseFlags, printJson, UsageError, type Command, intFlag } from '../cli-kit.ts';
import { DEFAULT_SIM_OPTIONS, FAULTS, STAKE_DISTRIBUTIONS, simulate, type Fault, type Partition, type SimOptions, type StakeDistribution } from '../../consensus/sim/simulator.ts';
import { parseThreshold } from '../../consensus/validator-set.ts';

const D = DEFAULT_SIM_OPTIONS;

const help = `Usage: conclave sim [options]

Deterministic Byzantine simulator of Conclave consensus. Every member runs the real state machine
(stake-weighted median, PBFT-style prepare/commit with a collector, view changes) with real
sr25519-signed score reports and ed25519-signed votes, on virtual time, in one process. The same
--seed always gives the same outcome. Prints a summary; --json prints the full result object.

Options:
  --validators N         members in the validator set                          [default: ${D.validators}]
  --byzantine N          Byzantine members (chosen by the seed)                 [default: ${D.byzantine}]
  --runs N               consecutive runs (epochs) to simulate                  [default: ${D.runs}]
  --seed N               PRNG seed                                              [default: ${D.seed}]
  --miners N             miner submissions per run                              [default: ${D.miners}]
  --faults LIST          Byzantine behaviours, assigned round-robin; comma list of
                         ${FAULTS.join(', ')}
                                                                                [default: all]
  --stake DIST           stake distribution: ${STAKE_DISTRIBUTIONS.join(', ')}  [default: ${D.stake}]
  --threshold FRAC       certificate / quorum threshold (>= 1/2)                [default: ${D.threshold.num}/${D.threshold.den}]
  --delay MIN-MAX        one-way message delay in ms, uniform (reorders)        [default: ${D.minDelayMs}-${D.maxDelayMs}]
  --loss P               probability a message is lost                          [default: ${D.loss}]
  --duplicate P          probability a message is delivered twice               [default: ${D.duplicate}]
  --partition FROM-TO/G  split members into G groups from FROM to TO ms after a
                         run starts, then heal; repeatable                      [default: none]
  --partition-every K    apply partitions to every K-th run                     [default: ${D.partitionEvery}]
  --view-timeout MS      base view timeout (doubles per view, 2 doublings max)  [default: ${D.timing.viewTimeoutMs}]
  --liveness-bound MS    honest members must decide this long after healing     [default: ${D.livenessBoundMs}]
  --json                 print the result as JSON
  -h, --help             show this help

Exit status: 0 when no safety violation and no liveness failure, 1 otherwise, 2 on bad usage.

Examples:
  conclave sim --validators 64 --byzantine 21 --runs 200 --seed 1 --json
  conclave sim --validators 16 --byzantine 5 --faults equivocate,silent-proposer --partition 0-8000/2
  conclave sim --validators 7 --byzantine 3 --faults equivocate --threshold 1/2   # negative control
`;

function prob(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!/^\d*\.?\d+$/.test(v) || !(x >= 0 && x < 1)) throw new UsageError(`--${flag} expects a probability in [0, 1), got ${JSON.stringify(v)}`);
  return x;
}

function partition(s: string): Partition {
  const m = /^(\d+)-(\d+)\/(\d+)$/.exec(s);
  if (!m) throw new UsageError(`--partition expects FROM-TO/GROUPS in ms, e.g. 0-8000/2; got ${JSON.stringify(s)}`);
  return { fromMs: Number(m[1]), toMs: Number(m[2]), groups: Number(m[3]) };
}

export function parseSimArgs(argv: string[]): { opts: SimOptions; json: boolean } {
  const { values } = parseFlags(
    argv,
    {
      validators: { type: 'string' },
      byzantine: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      miners: { type: 'string' },
      faults: { type: 'string' },
      stake: { type: 'string' },
      threshold: { type: 'string' },
      delay: { type: 'string' },
      loss: { type: 'string' },
      duplicate: { type: 'string' },
      partition: { type: 'string', multiple: true },
      'partition-every': { type: 'string' },
      'view-timeout': { type: 'string' },
      'liveness-bound': { type: 'string' },
      json: { type: 'boolean' },
    },
    false,
  );
  let faults: Fault[] = [...D.faults];
  if (values.faults !== undefined) {
    faults = values.faults.split(',').map((f) => f.trim()).filter(Boolean) as Fault[];
    const unknown = faults.filter((f) => !(FAULTS as readonly string[]).includes(f));
    if (unknown.length) throw new UsageError(`--faults: unknown behaviour ${unknown.join(', ')}; choose from ${FAULTS.join(', ')}`);
  }
  const stake = (values.stake ?? D.stake) as StakeDistribution;
  if (!(STAKE_DISTRIBUTIONS as readonly string[]).includes(stake)) throw new UsageError(`--stake must be one of ${STAKE_DISTRIBUTIONS.join(', ')}`);
  let minDelayMs = D.minDelayMs;
  let maxDelayMs = D.maxDelayMs;
  if (values.delay !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(values.delay);
    if (!m || Number(m[1]) > Number(m[2])) throw new UsageError(`--delay expects MIN-MAX in ms with MIN <= MAX, got ${JSON.stringify(values.delay)}`);
    minDelayMs = Number(m[1]);
    maxDelayMs = Number(m[2]);
  }
  let threshold = D.threshold;
  if (values.threshold !== undefined) {
    try {
      threshold = parseThreshold(values.threshold);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const opts: SimOptions = {
    ...D,
    validators: intFlag(values.validators, 'validators', D.validators),
    byzantine: intFlag(values.byzantine, 'byzantine', D.byzantine),
    runs: intFlag(values.runs, 'runs', D.runs),
    seed: intFlag(values.seed, 'seed', D.seed),
    miners: intFlag(values.miners, 'miners', D.miners),
    faults,
    stake,
    threshold,
    minDelayMs,
    maxDelayMs,
    loss: prob(values.loss, 'loss', D.loss),
    duplicate: prob(values.duplicate, 'duplicate', D.duplicate),
    partitions: (values.partition ?? []).map(partition),
    partitionEvery: intFlag(values['partition-every'], 'partition-every', D.partitionEvery),
    timing: { ...D.timing, viewTimeoutMs: intFlag(values['view-timeout'], 'view-timeout', D.timing.viewTimeoutMs) },
    livenessBoundMs: intFlag(values['liveness-bound'], 'liveness-bound', D.livenessBoundMs),
  };
  if (opts.timing.viewTimeoutMs < 1) throw new UsageError('--view-timeout must be at least 1 ms');
  return { opts, json: values.json === true };
}

const command: Command = {
  name: 'sim',
  help,
  async run(argv) {
    const { opts, json } = parseSimArgs(argv);
    let result;
    try {
      result = await simulate(opts);
    } catch (err) {
      if (err instanceof RangeError) throw new UsageError(err.message);
      throw err;
    }
    if (json) printJson({ options: { ...opts, threshold: `${opts.threshold.num}/${opts.threshold.den}` }, ...result });
    else {
      const r = result;
      process.stdout.write(
        [
          `runs ${r.runs}: decided ${r.decided}, safety violations ${r.safetyViolations}, liveness failures ${r.livenessFailures}`,
          `validators ${r.validators} (byzantine ${r.byzantine}, ${(r.byzantinePowerShare * 100).toFixed(1)} % of stake)`,
          `messages ${r.messages} (${r.messagesPerRun}/run), signature verifications ${r.signatureVerifications} (${r.verificationsPerMemberPerRun}/member/run)`,
          `latency p50 ${r.simulatedLatencyMs.p50} ms, p99 ${r.simulatedLatencyMs.p99} ms (virtual); cpu ${r.cpuMsPerMember} ms/member/run`,
          `winner changed by byzantine ${r.winnerChangedByByzantine}, close races ${r.closeRaces} (flipped ${r.closeRacesFlipped}, share ${r.closeRaceFlipShare})`,
          `forged bindings accepted ${r.bindingForgeriesAccepted} of ${r.bindingForgeriesOffered}, stale members certified ${r.staleMembersCertified}/${r.staleMembers}, certified runs verified ${r.priorRunsVerified}, incomplete proposals refused ${r.incompleteProposalsRefused}`,
          `equivocations detected ${r.equivocationDetections}, rejected messages ${r.rejectedMessages}, runs with view changes ${r.viewChangesRuns}`,
          `wall ${r.wallMs} ms`,
        ].join('\n') + '\n',
      );
    }
    return result.safetyViolations === 0 && result.livenessFailures === 0 && result.winnerChangedByByzantine === 0 && result.bindingForgeriesAccepted === 0 ? 0 : 1;
  },
};

export default command;
