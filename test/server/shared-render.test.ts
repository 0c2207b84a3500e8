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
});
