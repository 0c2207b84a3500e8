// Part of `npm run build`, after tsc: replaces each dist/vendor/*.js, a module that
// re-exports a dependency (src/vendor/), with one esbuild bundle of it and its V8 code
// cache. Node's loader then reads one file where it read hundreds: @kubernetes/client-node
// is some 970 ES modules (0.6-1.0 s of `check`'s start on a 2-core machine; bundled,
// ~0.1 s), zod ~95, yaml ~60. The packages stay dependencies: the bundles are built from
// them, and tests, which run src/ under tsx, use them directly.
//
// Each NAME.js becomes:
//   NAME.cjs          the bundle, CommonJS, so that it can be compiled with a code cache
//   NAME.cjs.v8cache  V8's code cache of it, written by loading it once here
//   NAME.js           an ES module exporting the bundle's names, loaded through
//                     cached-bundle.js (src/vendor/cached-bundle.ts)
//
//   node scripts/bundle-vendor.mjs [DIR]     (default dist/vendor)
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

// The directory of tsc's output for src/vendor/: dist/vendor unless given (tests).
const VENDOR = process.argv[2] ?? fileURLToPath(new URL('../dist/vendor', import.meta.url));
/** The loader the shims import: compiled by tsc like the rest, not a bundle. */
const LOADER = 'cached-bundle.js';

const { writeCodeCache } = await import(pathToFileURL(join(VENDOR, LOADER)).href);
const entries = readdirSync(VENDOR)
  .filter((name) => name.endsWith('.js') && name !== LOADER)
  .map((name) => join(VENDOR, name));

/** The ES module that stands where tsc's re-export module was. */
function shimOf(name, exportNames) {
  const locals = exportNames.map(
    (exported, i) => `const x${i} = bundle[${JSON.stringify(exported)}];`,
  );
  const specifiers = exportNames.map((exported, i) => `x${i} as ${exported}`);
  return [
    `// Made by scripts/bundle-vendor.mjs: what src/vendor/${name}.ts re-exports, from one`,
    `// bundle (${name}.cjs) loaded with its V8 code cache.`,
    `import { loadBundle } from './${LOADER}';`,
    `const bundle = loadBundle(new URL('./${name}.cjs', import.meta.url)).exports;`,
    ...locals,
    `export { ${specifiers.join(', ')} };`,
    '',
  ].join('\n');
}

for (const file of entries) {
  const name = file.slice(file.lastIndexOf('/') + 1, -'.js'.length);
  const bundle = join(VENDOR, `${name}.cjs`);
  try {
    // The names come from the module itself (the package behind it), so the shim
    // exports exactly what the source does.
    const exportNames = Object.keys(await import(pathToFileURL(file).href)).sort();
    await build({
      entryPoints: [file],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      minify: true,
      sourcemap: true,
      legalComments: 'linked',
      logLevel: 'warning',
    });
    writeFileSync(file, shimOf(name, exportNames));
    // tsc's map was of the re-export module, which is gone.
    rmSync(`${file}.map`, { force: true });
    const cacheBytes = writeCodeCache(bundle);
    const megabytes = (statSync(bundle).size / 2 ** 20).toFixed(2);
    process.stderr.write(
      `bundle-vendor: ${relative(process.cwd(), bundle)} (${megabytes} MB, code cache ${(cacheBytes / 2 ** 20).toFixed(2)} MB)\n`,
    );
  } catch (error) {
    process.stderr.write(
      `bundle-vendor: ${relative(process.cwd(), file)}: ${error instanceof Error ? error.message : error}\n`,
    );
    process.exit(1);
  }
}
