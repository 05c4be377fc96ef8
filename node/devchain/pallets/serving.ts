// SubtensorModule.serve_axon as subtensor validates it (subnets/serving.rs validate_serve_axon: registered,
// ip type 4|6, not 127.0.0.1 / ::1 / broadcast, ServingRateLimit since the last serve, port > 0). Current
// runtimes run the same validation in the transaction pool (SubtensorTransactionExtension), so a refusal
// is a 1010 "Custom error: N" there — the devchain does the same (validateServeAxon) — and again at dispatch.
import { encodeEvent, ModuleError, num, type EncodedEvent, type Store } from '../runtime.ts';

export function validateServeAxon(s: Store, who: string, block: number, a: Record<string, unknown>): void {
  const netuid = num(a.netuid);
  if (s.uidOf(netuid, who) === null) throw new ModuleError('subtensorModule', 'HotKeyNotRegisteredInNetwork');
  const ipType = num(a.ipType);
  if (ipType !== 4 && ipType !== 6) throw new ModuleError('subtensorModule', 'InvalidIpType');
  const ip = BigInt((a.ip as { toString(): string }).toString());
  if (ipType === 4 && (ip >= 0xffffffffn || ip === 0x7f000001n)) throw new ModuleError('subtensorModule', 'InvalidIpAddress');
  if (ipType === 6 && (ip === (1n << 128n) - 1n || ip === 1n)) throw new ModuleError('subtensorModule', 'InvalidIpAddress');
  const prev = s.read('subtensorModule', 'axons', netuid, who).value as unknown as { isSome?: boolean; unwrap(): { block: unknown } } | null;
  const last = prev && (prev.isSome === undefined || prev.isSome) ? num((prev.unwrap ? prev.unwrap() : (prev as unknown as { block: unknown })).block) : 0;
  const limit = s.num('subtensorModule', 'servingRateLimit', netuid);
  if (limit !== 0 && last !== 0 && block - last < limit) throw new ModuleError('subtensorModule', 'ServingRateLimitExceeded');
  if (num(a.port) === 0) throw new ModuleError('subtensorModule', 'InvalidPort');
}

export function serveAxon(s: Store, who: string, block: number, a: Record<string, unknown>): EncodedEvent[] {
  validateServeAxon(s, who, block, a);
  const netuid = num(a.netuid);
  s.write('subtensorModule', 'axons', [netuid, who], {
    block, version: num(a.version), ip: BigInt((a.ip as { toString(): string }).toString()), port: num(a.port), ipType: num(a.ipType),
    protocol: num(a.protocol), placeholder1: num(a.placeholder1), placeholder2: num(a.placeholder2),
  });
  return [encodeEvent(s.meta, 'subtensorModule', 'AxonServed', [netuid, who])];
}
