/**
 * The measured children run as compiled JavaScript, as the exporter runs in
 * production (`node dist/main.js`), not under tsx: tsx turns on source maps, and then
 * every refused connect's error pays for a source-mapped stack trace (about 15% more
 * CPU per probe here), and its loader thread adds tens of MB of RSS. tsc compiles
 * them and the src/ modules they import into .tmp/bench-js (bench/tsconfig.json),
 * incrementally, once per benchmark run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT_DIR = join(REPO_ROOT, '.tmp', 'bench-js');
let compiled = false;

/** The path of bench/<name>.ts compiled; compiles on the first call. */
export function compiledChild(name: 'engine-child' | 'exporter-child'): string {
  if (!compiled) {
    try {
      execFileSync(
        process.execPath,
        [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'bench/tsconfig.json'],
        { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 },
      );
    } catch (error) {
      // A type error elsewhere in the tree still emits; only a missing output is fatal.
      const out = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
      process.stderr.write(
        `bench: tsc reported (the output is used anyway):\n${out.slice(0, 2000)}\n`,
      );
    }
    compiled = true;
  }
  const path = join(OUT_DIR, 'bench', `${name}.js`);
  if (!existsSync(path)) throw new Error(`tsc -p bench/tsconfig.json did not emit ${path}`);
  return path;
}

let built = false;

/**
 * dist/main.js, built from the tree as it is now on the first call, by `npm run build`
 * itself (tsc, then the vendor bundles): a dist/ left from an older build would measure
 * older code, and one without the bundles a slower start.
 */
export function builtMain(): string {
  if (!built) {
    execFileSync('npm', ['run', '--silent', 'build'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    });
    built = true;
  }
  return join(REPO_ROOT, 'dist', 'main.js');
}
