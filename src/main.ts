#!/usr/bin/env node
/**
 * The entry point, kept to Node's own modules and one small file: it decides how the
 * rest is loaded, then loads it (src/run.ts does the work).
 *
 * Node's ESM loader reads a module's imports all at once: @kubernetes/client-node
 * alone imports hundreds of files side by side (from src, under tsx; the build
 * bundles it into one, scripts/bundle-vendor.mjs), so below about `ulimit -n 768` loading
 * died with EMFILE and a stack trace, `--version` included. Under a low limit a load
 * hook lets at most LOADS_IN_FLIGHT files be read at a time. The hook runs on a
 * loader thread and costs about half a second at start, so it is only used where it
 * is needed. Whatever still fails for want of descriptors is one line and exit 2.
 * Node's warnings are JSON lines from here on, like every other line on stderr.
 */
import { register } from 'node:module';
import { openFilesTooLowMessage, readOpenFilesLimit } from './probe/fd-budget.js';
import { captureWarningsEarly } from './util/log-capture.js';

/** At or above this soft limit the loader's fan-out fits with room to spare. */
const UNGATED_FROM = 2048;
const LOADS_IN_FLIGHT = 8;

/** A counting semaphore around every load: plain JavaScript, as a data: URL needs no file. */
const LOAD_GATE = `
let active = 0;
const waiting = [];
export async function load(url, context, nextLoad) {
  if (active >= ${LOADS_IN_FLIGHT}) await new Promise((resume) => waiting.push(resume));
  else active++;
  try {
    return await nextLoad(url, context);
  } finally {
    const next = waiting.shift();
    if (next) next();
    else active--;
  }
}
`;

const softLimit = readOpenFilesLimit();

function tooFewDescriptors(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

// A warning while loading (a deprecation in a dependency) is a JSON line too.
captureWarningsEarly();
try {
  if (softLimit !== undefined && softLimit < UNGATED_FROM) {
    register(`data:text/javascript,${encodeURIComponent(LOAD_GATE)}`);
  }
  await import('./run.js');
} catch (err) {
  const message = tooFewDescriptors(err)
    ? openFilesTooLowMessage(softLimit ?? 0)
    : `cannot load: ${err instanceof Error ? err.message : String(err)}`;
  process.stderr.write(`imanager-port-exporter: ${message}\n`);
  process.exit(tooFewDescriptors(err) ? 2 : 1);
}
