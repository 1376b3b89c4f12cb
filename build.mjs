// build.mjs: bundles src/ into one CommonJS file, dist/tlsify.cjs (one file loads faster than many).
// yargs-parser is bundled in: it is ESM-only, and require() of ESM costs ~10 ms at every start.
// The other dependencies stay external and are loaded only by the commands that use them
// (pino on the first log line at an enabled level, @peculiar/x509 by demo).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/tlsify.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['pino', '@peculiar/*', 'reflect-metadata', '@noble/*'],
  sourcemap: false,
  legalComments: 'none',
  // yargs-parser's ESM build calls createRequire(import.meta.url); give it this file's URL.
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
