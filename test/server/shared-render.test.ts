import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createSharedRender, type LentBody } from '../../src/server/shared-render.js';

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
    assert.deepEqual(
      bodies.map((b) => b.body.toString()),
      ['render 1\n', 'render 1\n', 'render 1\n'],
    );
    const later = acquire();
    await Promise.resolve();
    assert.equal(state.renders, 2, 'a scrape after the render gets a new one');
    state.finish[1]?.();
    assert.equal((await later).body.toString(), 'render 2\n');
    for (const b of bodies) b.done();
    (await later).done();
  });

  test('the body is released once, after the last reader is done', async () => {
    const { state, render } = controlledRenderer();
    const acquire = createSharedRender(render, { gzipLevel: 1 });
    const waiting = [acquire(), acquire()];
    state.finish[0]?.();
    const [a, b] = await Promise.all(waiting);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(state.released, 0, 'released while readers hold it');
    a?.done();
    a?.done();
    assert.equal(state.released, 0, 'one reader left');
    b?.done();
    assert.equal(state.released, 1);
  });

  test('one gzip serves every reader and inflates to the body', async () => {
    const { state, render } = controlledRenderer();
    const acquire = createSharedRender(render, { gzipLevel: 1 });
    const waiting = [acquire(), acquire()];
    state.finish[0]?.();
    const [a, b] = await Promise.all(waiting);
    const [za, zb] = [a?.gzipped(), b?.gzipped()];
    assert.equal(za, zb, 'the same gzip promise');
    assert.equal(gunzipSync(await (za as Promise<Buffer>)).toString(), 'render 1\n');
    a?.done();
    b?.done();
    assert.equal(state.released, 1);
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
    assert.equal((await acquire()).body.toString(), 'ok');
    assert.equal(calls, 2);
  });

  test('past the byte budget a scrape shares the held render instead of making another', async () => {
    const made: string[] = [];
    const render = async (): Promise<LentBody> => {
      made.push(`render ${made.length + 1}`);
      return { body: Buffer.alloc(1000, made.length), release: () => {} };
    };
    const tight = createSharedRender(render, { gzipLevel: 1, maxLiveBytes: 1500 });
    const held = await tight();
    const next = await tight();
    assert.equal(made.length, 1, 'a second 1000-byte body would pass 1500 bytes');
    assert.equal(next.body, held.body, 'the held render is shared');
    held.done();
    next.done();
    const fresh = await tight();
    assert.equal(made.length, 2, 'once let go, the next scrape renders anew');
    fresh.done();

    made.length = 0;
    const roomy = createSharedRender(render, { gzipLevel: 1, maxLiveBytes: 2500 });
    const first = await roomy();
    const second = await roomy();
    assert.equal(made.length, 2, 'two bodies fit in 2500 bytes');
    assert.notEqual(second.body, first.body);
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
    assert.equal(young.body.toString(), 'render 1', 'shared while young enough');
    assert.equal(stalled.signal.aborted, false);
    young.done();
    clock = 101;
    const later = acquire();
    assert.equal(stalled.signal.aborted, true, 'the stalled reader is told to stop');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(renders, 1, 'no new render while the old one is held');
    stalled.done();
    const fresh = await later;
    assert.equal(fresh.body.toString(), 'render 2');
    assert.equal(released, 1, 'the old body went back before the new render');
    assert.equal(fresh.signal.aborted, false);
    fresh.done();
  });
});
