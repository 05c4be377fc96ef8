// conclave report sign|verify|example — canonical score reports from/to JSON files.
import { writeFile } from 'node:fs/promises';
import type { Command } from '../cli-kit.ts';
import { UsageError, parseFlags, printJson, requireFlag } from '../cli-kit.ts';
import { readJsonFileBounded } from '../bounded/json-file.ts';
import { MAX_REPORT_FILE_BYTES, REPORT_JSON_LIMITS } from '../bounded/json.ts';
import { InputError } from '../bounded/input-error.ts';
import { toHex } from '../../proto/codec.ts';
import { cryptoReady, publicKeyToHotkey } from '../../proto/signer.ts';
import {
  encodeScoreReport,
  parseScoreReportJson,
  parseSignedScoreReportJson,
  scoreReportHash,
  signScoreReport,
  verifySignedScoreReport,
  type ScoreReport,
} from '../../proto/score-report.ts';

const help = `Usage: conclave report <sign|verify|example> [options]

Sign or verify a canonical score report (the message validators gossip and archive; its
sha256 is what goes on chain).
  sign     Read REPORT.json, sign it with the hotkey; print canonical hex, sha256 and signature.
  verify   Read SIGNED.json ({"report": ..., "signature": ...}); exit 0 if valid, 1 if not (with the reason).

--in must be a regular file of at most 8 MiB (FIFOs and devices are refused); nesting, string
lengths and value counts are bounded like a report's. Invalid input exits 1.
  example  Print an example REPORT.json for --validator (a starting point for sign).

Options:
  --in FILE            Input JSON file (sign: a report; verify: a signed report)
  --out FILE           sign: also write the signed report JSON here
  --wallet NAME        sign: wallet name (default: default)
  --hotkey NAME        sign: hotkey name (default: default)
  --wallet-path DIR    sign: wallets directory (default: ~/.bittensor/wallets)
  --password-file FILE sign: password of an encrypted hotkey (or set CONCLAVE_HOTKEY_PASSWORD)
  --validator SS58     example: the validator hotkey to put in the report
  --json               Machine-readable output

Examples:
  conclave report example --validator 5F... > report.json
  conclave report sign --in report.json --wallet owner --hotkey validator1 --out signed.json
  conclave report verify --in signed.json
`;

const options = {
  in: { type: 'string' },
  out: { type: 'string' },
  wallet: { type: 'string', default: 'default' },
  hotkey: { type: 'string', default: 'default' },
  'wallet-path': { type: 'string' },
  'password-file': { type: 'string' },
  validator: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

function readJsonFile(path: string): Promise<unknown> {
  return readJsonFileBounded(path, { maxBytes: MAX_REPORT_FILE_BYTES, what: '--in', limits: REPORT_JSON_LIMITS });
}

export function exampleReport(validatorHotkey: string, now = Date.now()): ScoreReport {
  const miner = (b: number) => publicKeyToHotkey(new Uint8Array(32).fill(b));
  return {
    version: 1,
    netuid: 1,
    runId: 4_200_000,
    rosterHash: '00'.repeat(32),
    policyHash: '00'.repeat(32),
    hardwareClass: 'cpu-x86_64',
    validatorHotkey,
    entries: [
      { uid: 0, minerHotkey: miner(1), codeSha256: '11'.repeat(32), score: 421300, status: 'scored' },
      { uid: 1, minerHotkey: miner(2), codeSha256: '22'.repeat(32), score: 0, status: 'rejected-static' },
    ],
    issuedAt: now,
  };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, options);
  const [sub, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  await cryptoReady();
  switch (sub) {
    case 'sign': {
      const path = requireFlag(values.in, 'in');
      let report: ScoreReport;
      try {
        report = parseScoreReportJson(await readJsonFile(path));
      } catch (err) {
        if (err instanceof InputError) throw err;
        throw new InputError(`--in ${path}: ${(err as Error).message}`);
      }
      // loaded only here: the wallet code pulls in @polkadot/util-crypto (~70 MB), which verify does not need
      const { loadHotkey } = await import('../keys/wallet.ts');
      const signer = await loadHotkey({ wallet: values.wallet, hotkey: values.hotkey, walletPath: values['wallet-path'] }, { password: { flagFile: values['password-file'] } });
      const signed = signScoreReport(report, signer);
      const canonicalHex = toHex(encodeScoreReport(report));
      const sha256 = scoreReportHash(report);
      if (values.out) await writeFile(values.out, JSON.stringify(signed, null, 2) + '\n');
      if (values.json) printJson({ canonicalHex, sha256, signature: signed.signature, signed });
      else process.stdout.write(`canonical  ${canonicalHex}\nsha256     ${sha256}\nsignature  ${signed.signature}\n${values.out ? `written    ${values.out}\n` : ''}`);
      return 0;
    }
    case 'verify': {
      const path = requireFlag(values.in, 'in');
      // Every problem with the file (unreadable, not a regular file, too big, not JSON, not a report) is "invalid", exit 1.
      const raw = await readJsonFile(path).catch((err: Error) => err);
      let reason: string | undefined;
      let sha256: string | undefined;
      let validator: string | undefined;
      let runId: number | undefined;
      if (raw instanceof Error) reason = raw.message;
      else {
        try {
          const signed = parseSignedScoreReportJson(raw);
          const v = verifySignedScoreReport(signed);
          if (!v.ok) reason = v.reason;
          sha256 = scoreReportHash(signed.report);
          validator = signed.report.validatorHotkey;
          runId = signed.report.runId;
        } catch (err) {
          reason = (err as Error).message;
        }
      }
      if (values.json) printJson({ valid: reason === undefined, reason, sha256, validatorHotkey: validator, runId });
      else if (reason === undefined) process.stdout.write(`valid: report of ${validator} for run ${runId}, sha256 ${sha256}\n`);
      else process.stdout.write(`invalid: ${reason}\n`);
      return reason === undefined ? 0 : 1;
    }
    case 'example': {
      const validator = requireFlag(values.validator, 'validator');
      const report = parseScoreReportJson(exampleReport(validator));
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return 0;
    }
    case undefined:
      throw new UsageError('missing subcommand: sign, verify or example');
    default:
      throw new UsageError(`unknown subcommand '${sub}' (expected sign, verify or example)`);
  }
}

const command: Command = { name: 'report', help, run };
export default command;
