// Shared by the node tests that need the Docker engine and the evaluator image.
import Dockerode from 'dockerode';
import { CPU_IMAGE } from '../../runtime/sandbox-image.ts';
export { MINERS_DIR } from '../../node/devnet/setup.ts';

/** True when a Docker engine answers and the evaluator image is present (tests skip otherwise). */
export async function requireDockerForTests(tag = CPU_IMAGE): Promise<boolean> {
  const d = new Dockerode();
  try {
    await d.ping();
    await d.getImage(tag).inspect();
    return true;
  } catch {
    return false;
  }
}
