/** Bundled entry for the GPU host: runs `edgeserve build-native` (set EDGESERVE_NATIVE_DIR). */
import { command } from '../../cli/build-native.ts';

process.exitCode = await command.run(process.argv.slice(2));
