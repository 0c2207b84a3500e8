/**
 * Loads a vendor bundle (CommonJS, one file, made by scripts/bundle-vendor.mjs) with
 * the V8 code cache that the build wrote beside it.
 *
 * Node 20 caches no compiled code for ES modules, and compiling the 1.8 MB Kubernetes
 * client bundle was a tenth of `check`'s run at 21,000 targets (60 ms; its first run
 * another 50). With the cache V8 takes the bytecode of the build's own load instead of
 * parsing again: about half of that goes. V8 refuses a cache made by another V8, with
 * other flags or of other source (`cachedDataRejected`), and then compiles as it would
 * have: a missing or stale cache costs time, never correctness.
 *
 * Only the build writes a cache (writeCodeCache), so a read-only image works.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/** The code cache of BUNDLE.cjs is BUNDLE.cjs.v8cache. */
export const CODE_CACHE_SUFFIX = '.v8cache';

/** The CommonJS wrapper, the same text at build and at run: V8 checks the source's hash. */
function compile(file: string, cachedData?: Buffer): Script {
  const source = readFileSync(file, 'utf8');
  return new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData && { cachedData }),
  });
}

function run(script: Script, file: string): Record<string, unknown> {
  const module = { exports: {} as Record<string, unknown> };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

/** What the bundle exports; `cacheUsed` says whether V8 took the code cache. */
export function loadBundle(url: URL): {
  readonly exports: Record<string, unknown>;
  readonly cacheUsed: boolean;
} {
  const file = fileURLToPath(url);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(`${file}${CODE_CACHE_SUFFIX}`);
  } catch {
    // None (a build that made none): compiled from the source.
  }
  const script = compile(file, cachedData);
  return {
    exports: run(script, file),
    cacheUsed: cachedData !== undefined && !script.cachedDataRejected,
  };
}

/**
 * Loads the bundle once and writes its code cache: after the load, so the functions its
 * top level ran are in it compiled. For the build.
 */
export function writeCodeCache(file: string): number {
  const path = resolve(file);
  const script = compile(path);
  run(script, path);
  const data = script.createCachedData();
  writeFileSync(`${path}${CODE_CACHE_SUFFIX}`, data);
  return data.length;
}
