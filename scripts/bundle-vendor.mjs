// Part of `npm run build`, after tsc: replaces each dist/vendor/*.js, a module that
// re-exports a dependency (src/vendor/), with one esbuild bundle of it. Node's loader
// then reads one file where it read hundreds: @kubernetes/client-node is some 970 ES
// modules (0.6-1.0 s of `check`'s start on a 2-core machine; bundled, ~0.1 s), zod
// ~95, yaml ~60. The packages stay dependencies: the bundles are built from them, and
// tests, which run src/ under tsx, use them directly.
//
//   node scripts/bundle-vendor.mjs [DIR]     (default dist/vendor)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// The directory of tsc's output for src/vendor/: dist/vendor unless given (tests).
const VENDOR = process.argv[2] ?? fileURLToPath(new URL('../dist/vendor', import.meta.url));

const entries = readdirSync(VENDOR)
  .filter((name) => name.endsWith('.js'))
  .map((name) => join(VENDOR, name));

for (const file of entries) {
  try {
    await build({
      entryPoints: [file],
      outfile: file,
      allowOverwrite: true,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      minify: true,
      sourcemap: true,
      legalComments: 'linked',
      logLevel: 'warning',
      // CommonJS dependencies inside call require(); an ES module has none of its own.
      banner: {
        js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
      },
    });
  } catch (error) {
    process.stderr.write(
      `bundle-vendor: ${relative(process.cwd(), file)}: ${error instanceof Error ? error.message : error}\n`,
    );
    process.exit(1);
  }
  const megabytes = (statSync(file).size / 2 ** 20).toFixed(2);
  process.stderr.write(`bundle-vendor: ${relative(process.cwd(), file)} (${megabytes} MB)\n`);
}
