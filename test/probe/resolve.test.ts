import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createResolver, type LookupFn } from '../../src/probe/resolve.js';
import { createNetns } from '../helpers/netns.js';

/** A lookup that answers from a table and counts what it was asked. */
function tableLookup(table: Readonly<Record<string, string>>) {
  const asked: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const lookup: LookupFn = async (host) => {
    asked.push(host);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // Stay in flight across a turn of the loop, so parallel lookups overlap.
    await nextTurn();
    inFlight -= 1;
    const address = table[host];
    if (address === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    }
    return { address };
  };
  return { lookup, asked, maxInFlight: () => maxInFlight };
}

describe('createResolver', () => {
  test('IP literals pass through untouched, without a lookup', async () => {
    const { lookup, asked } = tableLookup({});
    const literals = ['127.0.0.1', '::1', '::ffff:127.0.0.1', '2001:DB8::1', '10.0.0.1'];
    const results = await createResolver({ lookup }).resolve(literals);
    assert.deepEqual(
      [...results],
      literals.map((ip) => [ip, { ip }]),
    );
    assert.deepEqual(asked, []);
  });

  test('each distinct name is looked up once per call', async () => {
    const { lookup, asked } = tableLookup({ 'node-a': '10.0.0.1', 'node-b': '10.0.0.2' });
    const resolver = createResolver({ lookup });
    const hosts = ['node-a', 'node-b', 'node-a', '127.0.0.1', 'node-b', 'node-a'];
    const results = await resolver.resolve(hosts);
    assert.deepEqual(Object.fromEntries(results), {
      'node-a': { ip: '10.0.0.1' },
      'node-b': { ip: '10.0.0.2' },
      '127.0.0.1': { ip: '127.0.0.1' },
    });
    assert.deepEqual(asked.toSorted(), ['node-a', 'node-b']);
    // A new call (a new cycle) asks again: addresses of nodes change.
    await resolver.resolve(['node-a']);
    assert.equal(asked.length, 3);
  });

  test('a failed lookup maps to its errno code; the others still resolve', async () => {
    const { lookup } = tableLookup({ good: '10.0.0.1' });
    const broken: LookupFn = async (host) => {
      if (host === 'no-code') throw new Error('resolver exploded');
      return lookup(host);
    };
    const results = await createResolver({ lookup: broken }).resolve([
      'good',
      'missing',
      'no-code',
    ]);
    assert.deepEqual(Object.fromEntries(results), {
      good: { ip: '10.0.0.1' },
      missing: { error: 'ENOTFOUND' },
      'no-code': { error: 'resolver exploded' },
    });
  });

  test('lookups run in parallel up to the cap, never past it', async () => {
    const table: Record<string, string> = {};
    for (let i = 0; i < 40; i++) table[`node-${i}`] = `10.0.0.${i}`;
    const { lookup, asked, maxInFlight } = tableLookup(table);
    const results = await createResolver({ lookup, concurrency: 8 }).resolve(Object.keys(table));
    assert.equal(results.size, 40);
    assert.equal(asked.length, 40);
    assert.equal(maxInFlight(), 8);
  });

  test('an empty host list resolves to an empty map', async () => {
    const results = await createResolver().resolve([]);
    assert.equal(results.size, 0);
  });

  test('localhost resolves through the system resolver to a loopback address', async () => {
    // Resolved by /etc/hosts (or glibc's built-in localhost): nothing leaves the machine.
    const results = await createResolver().resolve(['localhost']);
    const resolution = results.get('localhost');
    assert.ok(resolution !== undefined && 'ip' in resolution, JSON.stringify(resolution));
    assert.ok(
      resolution.ip === '::1' || (isIP(resolution.ip) === 4 && resolution.ip.startsWith('127.')),
      resolution.ip,
    );
  });

  test('a real failed lookup gives an errno code (in a namespace with no route out)', async (t) => {
    // In a fresh namespace the resolver's query cannot be sent anywhere, so the
    // lookup of an RFC 6761 .invalid name fails inside this machine (EAI_AGAIN here;
    // ENOTFOUND where a local resolver answers).
    const ns = await createNetns('resolve');
    t.after(() => ns.close());
    const { code, stdout, stderr } = await ns.runNode('test/fixtures/probe-resolve.ts', [
      'nothing.invalid',
      'localhost',
      '::1',
    ]);
    assert.equal(code, 0, stderr);
    const results = JSON.parse(stdout) as Record<string, { ip?: string; error?: string }>;
    assert.match(results['nothing.invalid']?.error ?? '', /^E[A-Z0-9_]+$/, stdout);
    assert.ok(results.localhost?.ip !== undefined, stdout);
    assert.deepEqual(results['::1'], { ip: '::1' });
  });
});
