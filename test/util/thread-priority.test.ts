/**
 * Serving threads run below the probes: lowerThreadPriority sets the calling thread's
 * nice value only, as /proc shows it, and the render thread calls it when it starts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { createMetrics } from '../../src/metrics/collector.js';
import { RenderThread } from '../../src/metrics/render-thread.js';
import { SERVING_NICE } from '../../src/util/thread-priority.js';
import { newStore } from '../helpers/store.js';

/** Nice value of each thread of this process, by TID (field 19 of its stat). */
function niceByThread(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // The command name may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), Number(fields[16]));
  }
  return out;
}

describe('lowerThreadPriority', () => {
  it('lowers the calling thread only', async () => {
    // Node 20 does not apply --import tsx to workers: the worker registers it itself.
    const source = `
      const { parentPort } = require('node:worker_threads');
      const { readlinkSync } = require('node:fs');
      parentPort.once('message', ({ tsx, path }) => {
        import(tsx)
          .then(({ register }) => { register(); return import(path); })
          .then((m) => {
            const ok = m.lowerThreadPriority(7);
            const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
            parentPort.postMessage({ ok, tid });
          });
      });`;
    const mainBefore = niceByThread().get(process.pid);
    const worker = new Worker(source, { eval: true });
    try {
      worker.postMessage({
        tsx: import.meta.resolve('tsx/esm/api'),
        path: new URL('../../src/util/thread-priority.ts', import.meta.url).href,
      });
      const { ok, tid } = await new Promise<{ ok: boolean; tid: number }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      assert.equal(ok, true);
      const nice = niceByThread();
      assert.equal(nice.get(tid), 7, 'the worker thread is at nice 7');
      assert.equal(nice.get(process.pid), mainBefore, 'the main thread is untouched');
    } finally {
      await worker.terminate();
    }
  });

  it('is what the render thread runs at once it has rendered', async () => {
    const before = [...niceByThread().values()].filter((n) => n === SERVING_NICE).length;
    const thread = new RenderThread();
    try {
      const metrics = createMetrics({
        version: '1',
        store: newStore(),
        processMetrics: false,
        renderThread: thread,
      });
      (await metrics.renderLent()).release();
      assert.equal(thread.written, 1, 'the render ran on the thread');
      const after = [...niceByThread().values()].filter((n) => n === SERVING_NICE).length;
      assert.equal(after, before + 1, `one more thread at nice ${SERVING_NICE}`);
    } finally {
      await thread.stop();
    }
  });
});
