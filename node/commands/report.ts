// conclave report sign|verify|example — canonical score reports from/to JSON files.
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from '../cli-kit.ts';
import { UsageError, parseFlags, printJson, requireFlag } from '../cli-kit.ts';
import { DEFAULT_WALLET_PATH, loadHotkey } from '../keys/wallet.ts';
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
  example  Print an example REPORT.json for --validator (a starting point for sign).

Options:
  --in FILE            Input JSON file (sign: a report; verify: a signed report)
  --out FILE           sign: also write the signed report JSON here
  --wallet NAME        sign: wallet name (default: default)
  --hotkey NAME        sign: hotkey name (default: default)
  --wallet-path DIR    sign: wallets directory (default: ${DEFAULT_WALLET_PATH})
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
  'wallet-path': { type: 'string', default: DEFAULT_WALLET_PATH },
  'password-file': { type: 'string' },
  validator: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --in ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not JSON: ${(err as Error).message}`);
  }
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
      const report = parseScoreReportJson(await readJsonFile(requireFlag(values.in, 'in')));
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
      const raw = await readJsonFile(path).catch((err: Error) => {
        if (err instanceof UsageError) throw err;
        return err;
      });
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
