import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every src/ file, relative to the repository. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

describe('bench/tsconfig.json', () => {
  // A worker module is loaded by file name, never imported, so tsc finds it only when
  // it is listed. Missing, the compiled child's worker fails to start and it runs
  // without it: the render thread's absence once went unseen into the memory figures.
  test('compiles every module that src/ starts as a worker thread', () => {
    const include: string[] = JSON.parse(
      readFileSync(join(ROOT, 'bench/tsconfig.json'), 'utf8'),
    ).include;
    const workers: string[] = [];
    for (const file of sources('src')) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/startModuleWorker\(\s*import\.meta\.url,\s*'([^']+)'/g))
        workers.push(relative(join(ROOT, 'bench'), join(ROOT, file, '..', `${m[1]}.ts`)));
    }
    // Found at all: a pattern that matched nothing would pass whatever the include.
    assert.ok(workers.includes('../src/metrics/render-worker.ts'), workers.join());
    for (const worker of workers)
      assert.ok(include.includes(worker), `${worker} is not in include`);
  });
});
