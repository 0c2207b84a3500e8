import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, readUntil, until } from './wait.js';

/** A check that always throws the error `make` gives for its try number, counting tries. */
function throwing(make: (tries: number) => Error) {
  let tries = 0;
  return {
    check: (): undefined => {
      tries++;
      throw make(tries);
    },
    tries: () => tries,
  };
}

describe('eventually', () => {
  it('resolves with the first value that is not undefined', async () => {
    let tries = 0;
    const value = await eventually(() => (++tries === 3 ? 'ready' : undefined), {
      what: 'the third try',
      timeoutMs: 10_000,
      intervalMs: 1,
    });
    assert.equal(value, 'ready');
    assert.equal(tries, 3);
  });

  it('counts a throw as not yet, and names what it waited for and the last error', async () => {
    const refused = throwing((tries) => new Error(`refused ${tries}`));
    await assert.rejects(
      eventually(refused.check, {
        what: 'the port to open',
        timeoutMs: 10_000,
        intervalMs: 1,
        attempts: 4,
      }),
      { message: 'not within 4 tries: the port to open (last error: Error: refused 4)' },
    );
    assert.equal(refused.tries(), 4);
  });

  it('gives up at the deadline, adding the detail read then', async () => {
    let tries = 0;
    await assert.rejects(
      eventually(
        () => {
          tries++;
          return undefined;
        },
        { what: 'a line', timeoutMs: 0, detail: () => `after ${tries} tries` },
      ),
      { message: 'not within 0 ms: a line\nafter 1 tries' },
    );
  });

  it('with throwsAreFinal, fails at the first throw', async () => {
    const error = new Error('scrape failed');
    const scrape = throwing(() => error);
    await assert.rejects(
      eventually(scrape.check, {
        what: 'a scrape',
        timeoutMs: 10_000,
        intervalMs: 1,
        throwsAreFinal: true,
      }),
      (thrown) => thrown === error,
    );
    assert.equal(scrape.tries(), 1);
  });
});

describe('until', () => {
  it('resolves once the condition holds', async () => {
    let count = 0;
    await until(() => ++count >= 2, { what: 'two counts', timeoutMs: 10_000, intervalMs: 1 });
    assert.equal(count, 2);
  });

  it('fails naming the condition when it never holds', async () => {
    await assert.rejects(
      until(() => false, { what: 'never', timeoutMs: 10_000, intervalMs: 1, attempts: 2 }),
      { message: 'not within 2 tries: never' },
    );
  });
});

describe('readUntil', () => {
  it('resolves with the first reading that is done', async () => {
    let reading = 0;
    const value = await readUntil(
      async () => ++reading,
      (n) => n === 3,
      { timeoutMs: 10_000, intervalMs: 1 },
    );
    assert.equal(value, 3);
  });

  it('resolves with the last reading when the bound is reached, for the caller to judge', async () => {
    let reading = 0;
    const value = await readUntil(
      async () => ++reading,
      () => false,
      { timeoutMs: 10_000, intervalMs: 1, attempts: 5 },
    );
    assert.equal(value, 5);
  });

  it('fails at once when a reading throws', async () => {
    const scrape = throwing(() => new Error('connection refused'));
    await assert.rejects(
      readUntil(
        async () => scrape.check(),
        () => false,
        { timeoutMs: 10_000, intervalMs: 1 },
      ),
      { message: 'connection refused' },
    );
    assert.equal(scrape.tries(), 1);
  });
});
