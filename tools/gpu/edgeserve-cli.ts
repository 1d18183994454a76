/**
 * The `edgeserve` command as one bundle for the GPU host, which has Node but no node_modules
 * (bundle.sh writes .bundle/edgeserve-cli.mjs): `node .bundle/edgeserve-cli.mjs bench throughput
 * --device cuda ...` runs exactly what `npx edgeserve bench throughput` runs here.
 */
import { main } from '../../cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
