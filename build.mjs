// build.mjs: bundles src/ into one CommonJS file, dist/tlsify.cjs (one file loads faster than many).
// Dependencies stay external, so modules a command does not use (pino, @peculiar/x509) are never loaded.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/tlsify.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
