// Fault injection for crash tests: CONCLAVE_ARCHIVE_FAULT=<step> makes the process SIGKILL itself
// when it reaches that step (each rename and each phase of creation, migration and repair is one).
// Unset in production; the tests walk every step in FAULT_STEPS and check that nothing is lost.

export const FAULT_STEPS = [
  // creating a new archive
  'create:locked', 'create:marker-tmp', 'create:marker', 'create:store', 'create:pointer-tmp', 'create:pointer',
  // first read-write open of an archive created before the marker file existed
  'adopt:marker-tmp', 'adopt:marker',
  // migrating a v1 store (keys without netuid/chain) in place
  'migrate:chunk', 'migrate:done',
  // repair
  'repair:locked', 'repair:copy-file', 'repair:copied', 'repair:listed-before', 'repair:leveldb-repaired',
  'repair:verified', 'repair:synced', 'repair:store-renamed', 'repair:pointer-tmp', 'repair:pointer', 'repair:old-moving', 'repair:old-moved',
] as const;

export type FaultStep = (typeof FAULT_STEPS)[number];

export function fault(step: FaultStep): void {
  if (process.env.CONCLAVE_ARCHIVE_FAULT === step) process.kill(process.pid, 'SIGKILL');
}
