import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { createBasicAuth, parseBasic } from '../../src/server/auth.js';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

// Cost 4: the lowest bcrypt allows, so the real algorithm runs without slowing the suite.
// `$2y$` is what htpasswd writes, and what the toolkit's docs show.
const ALICE = bcrypt.hashSync('correct horse', 4).replace(/^\$2b\$/, '$2y$');
const BOB = bcrypt.hashSync('pa:ss:word', 4);

/** The real bcrypt, counted, with how many run at once. */
function countedCompare() {
  const counts = { calls: 0, inFlight: 0, maxInFlight: 0 };
  const compare = async (password: string, hash: string) => {
    counts.calls += 1;
    counts.inFlight += 1;
    counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight);
    try {
      return await bcrypt.compare(password, hash);
    } finally {
      counts.inFlight -= 1;
    }
  };
  return { counts, compare };
}

describe('parseBasic', () => {
  it('splits at the first colon, so passwords may hold colons', () => {
    assert.deepEqual(parseBasic(basic('bob', 'pa:ss:word')), {
      user: 'bob',
      password: 'pa:ss:word',
    });
    assert.deepEqual(parseBasic(`bAsIc  ${Buffer.from('a:').toString('base64')}`), {
      user: 'a',
      password: '',
    });
  });

  it('refuses what is not basic credentials', () => {
    for (const header of [
      undefined,
      '',
      'Bearer abc',
      'Basic',
      'Basic !!!',
      `Basic ${Buffer.from('no-colon').toString('base64')}`,
    ]) {
      assert.equal(parseBasic(header), undefined, String(header));
    }
  });
});

describe('createBasicAuth', () => {
  it('accepts the right password, refuses a wrong one, an unknown user and no header', async () => {
    const auth = createBasicAuth({ alice: ALICE, bob: BOB });
    assert.equal(await auth.check(basic('alice', 'correct horse')), true);
    assert.equal(await auth.check(basic('bob', 'pa:ss:word')), true);
    assert.equal(await auth.check(basic('alice', 'correct horse ')), false);
    assert.equal(await auth.check(basic('alice', 'pa:ss:word')), false);
    assert.equal(await auth.check(basic('mallory', 'correct horse')), false);
    assert.equal(await auth.check(undefined), false);
  });

  it('lets everyone in when no user is configured, as the toolkit does', async () => {
    assert.equal(await createBasicAuth({}).check(undefined), true);
  });

  it('runs bcrypt once per good password, not once per scrape', async () => {
    const { counts, compare } = countedCompare();
    const auth = createBasicAuth({ alice: ALICE }, { compare });
    for (let scrape = 0; scrape < 5; scrape += 1) {
      assert.equal(await auth.check(basic('alice', 'correct horse')), true);
    }
    assert.equal(counts.calls, 1);
  });

  it('does not cache refusals, and spends a bcrypt on unknown users too', async () => {
    const { counts, compare } = countedCompare();
    const auth = createBasicAuth({ alice: ALICE }, { compare });
    await auth.check(basic('alice', 'wrong'));
    await auth.check(basic('alice', 'wrong'));
    await auth.check(basic('mallory', 'wrong'));
    assert.equal(counts.calls, 3);
  });

  it('forgets the oldest verified password past the cache size', async () => {
    const { counts, compare } = countedCompare();
    const auth = createBasicAuth({ alice: ALICE, bob: BOB }, { compare, cacheSize: 1 });
    await auth.check(basic('alice', 'correct horse'));
    await auth.check(basic('bob', 'pa:ss:word'));
    await auth.check(basic('alice', 'correct horse'));
    assert.equal(counts.calls, 3);
  });

  it('runs one bcrypt at a time, however many requests arrive together', async () => {
    const { counts, compare } = countedCompare();
    const auth = createBasicAuth({ alice: ALICE }, { compare, queuedPerSource: 6 });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => auth.check(basic('alice', `guess-${i}`))),
    );
    assert.deepEqual(results, [false, false, false, false, false, false]);
    assert.equal(counts.calls, 6);
    assert.equal(counts.maxInFlight, 1);
  });

  it('keeps working after a compare throws', async () => {
    let fail = true;
    const auth = createBasicAuth(
      { alice: ALICE },
      {
        compare: async (password, hash) => {
          if (fail) throw new Error('boom');
          return bcrypt.compare(password, hash);
        },
      },
    );
    await assert.rejects(auth.check(basic('alice', 'correct horse')), /boom/);
    fail = false;
    assert.equal(await auth.check(basic('alice', 'correct horse')), true);
  });
});
