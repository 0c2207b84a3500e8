import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  createSharedRender,
  type LentBody,
  type SharedBody,
} from '../../src/server/shared-render.js';

/** What a reader's gzip inflates to. */
const text = (b: SharedBody) => gunzipSync(b.gzipped).toString();

/** A renderer whose renders finish when the test says, counting renders and releases. */
function controlledRenderer() {
  const state = { renders: 0, released: 0, finish: [] as (() => void)[] };
  const render = () =>
    new Promise<LentBody>((resolve) => {
      const n = ++state.renders;
      state.finish.push(() =>
        resolve({ body: Buffer.from(`render ${n}\n`), release: () => void state.released++ }),
      );
    });
  return { state, render };
}

describe('createSharedRender', () => {
  test('scrapes that arrive during a render share it; one after it gets a fresh one', async () => {
    const { state, render } = controlledRenderer();
    const acquire = createSharedRender(render, { gzipLevel: 1 });
    const waiting = [acquire(), acquire(), acquire()];
    await Promise.resolve();
    assert.equal(state.renders, 1);
    state.finish[0]?.();
    const bodies = await Promise.all(waiting);
    assert.deepEqual(bodies.map(text), ['render 1\n', 'render 1\n', 'render 1\n']);
    const later = acquire();
    await Promise.resolve();
    assert.equal(state.renders, 2, 'a scrape after the render gets a new one');
    state.finish[1]?.();
    assert.equal(text(await later), 'render 2\n');
    for (const b of bodies) b.done();
    (await later).done();
  });

  test('the body is released once, when it is compressed, before any reader is done', async () => {
    const { state, render } = controlledRenderer();
    const acquire = createSharedRender(render, { gzipLevel: 1 });
    const waiting = [acquire(), acquire()];
    state.finish[0]?.();
    const [a, b] = await Promise.all(waiting);
    // A reader that never reads holds the gzip, not the plain body.
    assert.equal(state.released, 1, 'the body went back once its gzip was made');
    a?.done();
    a?.done();
    b?.done();
    assert.equal(state.released, 1, 'released once, not per reader');
  });

  test('one gzip serves every reader, inflates to the body, and carries its length', async () => {
    const { state, render } = controlledRenderer();
    const acquire = createSharedRender(render, { gzipLevel: 1 });
    const waiting = [acquire(), acquire()];
    state.finish[0]?.();
    const [a, b] = (await Promise.all(waiting)) as [SharedBody, SharedBody];
    assert.equal(a.gzipped, b.gzipped, 'the same gzip buffer');
    assert.equal(gunzipSync(a.gzipped).toString(), 'render 1\n');
    assert.equal(a.plainBytes, Buffer.byteLength('render 1\n'));
    a.done();
    b.done();
  });

  test('a failed render fails its waiters and the next scrape renders again', async () => {
    let calls = 0;
    const acquire = createSharedRender(
      async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return { body: Buffer.from('ok'), release: () => {} };
      },
      { gzipLevel: 1 },
    );
    await assert.rejects(Promise.all([acquire(), acquire()]), /boom/);
    assert.equal(text(await acquire()), 'ok');
    assert.equal(calls, 2);
  });

  test('past the byte budget a scrape shares the held render instead of making another', async () => {
    const made: string[] = [];
    // Random bytes do not compress: each gzip is a little over 1000 bytes, as budgeted.
    const render = async (): Promise<LentBody> => {
      made.push(`render ${made.length + 1}`);
      return { body: randomBytes(1000), release: () => {} };
    };
    const tight = createSharedRender(render, { gzipLevel: 1, maxLiveBytes: 1500 });
    const held = await tight();
    assert.ok(held.gzipped.length > 1000, `${held.gzipped.length} bytes of gzip`);
    const next = await tight();
    assert.equal(made.length, 1, 'a second 1000-byte gzip would pass 1500 bytes');
    assert.equal(next.gzipped, held.gzipped, 'the held render is shared');
    held.done();
    next.done();
    const fresh = await tight();
    assert.equal(made.length, 2, 'once let go, the next scrape renders anew');
    fresh.done();

    made.length = 0;
    const roomy = createSharedRender(render, { gzipLevel: 1, maxLiveBytes: 2500 });
    const first = await roomy();
    const second = await roomy();
    assert.equal(made.length, 2, 'two gzips fit in 2500 bytes');
    assert.notEqual(second.gzipped, first.gzipped);
    first.done();
    second.done();
  });

  test('a held render older than the share age is cut, and a fresh one follows its release', async () => {
    let clock = 0;
    let renders = 0;
    let released = 0;
    const acquire = createSharedRender(
      async () => {
        const n = ++renders;
        return { body: Buffer.from(`render ${n}`), release: () => void released++ };
      },
      { gzipLevel: 1, maxLiveRenders: 1, maxShareAgeMs: 100, now: () => clock },
    );
    const stalled = await acquire();
    clock = 100;
    const young = await acquire();
    assert.equal(text(young), 'render 1', 'shared while young enough');
    assert.equal(stalled.signal.aborted, false);
    young.done();
    clock = 101;
    const later = acquire();
    assert.equal(stalled.signal.aborted, true, 'the stalled reader is told to stop');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(renders, 1, 'no new render while the old one is held');
    stalled.done();
    const fresh = await later;
    assert.equal(text(fresh), 'render 2');
    assert.equal(released, 2, 'each body went back once compressed');
    assert.equal(fresh.signal.aborted, false);
    fresh.done();
  });
});
