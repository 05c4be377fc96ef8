// Shared by the node tests that need the Docker engine and the evaluator image.
import Dockerode from 'dockerode';
export { MINERS_DIR } from '../../node/devnet/setup.ts';

/** True when a Docker engine answers and the evaluator image is present (tests skip otherwise). */
export async function requireDockerForTests(tag = 'conclave-evaluator:cpu'): Promise<boolean> {
  const d = new Dockerode();
  try {
    await d.ping();
    await d.getImage(tag).inspect();
    return true;
  } catch {
    return false;
  }
}
