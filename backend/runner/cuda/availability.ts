/** `--device auto` asks this: is the addon built, loadable, and is there a GPU it can use? */
import { tryLoadCudaAddon } from '../../native/loader.ts';

export function cudaAvailable(): { ok: boolean; reason?: string } {
  const load = tryLoadCudaAddon();
  if (!load.ok) return { ok: false, reason: load.reason };
  try {
    const info = load.addon.deviceInfo();
    if (info.major < 8) {
      return {
        ok: false,
        reason: `${info.name} (sm_${info.major}${info.minor}) is older than the addon's target`,
      };
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `no usable CUDA device: ${(err as Error).message}` };
  }
}
