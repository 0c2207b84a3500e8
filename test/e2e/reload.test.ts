/**
 * Reload as an operator does it: SIGHUP, or POST /-/reload with --web.enable-lifecycle.
 * A good file takes effect at the next cycle; a bad one is refused, the running config
 * keeps probing, and imanager_config_last_reload_successful goes to 0.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { nodeArgv } from '../helpers/node-child.js';
import { readUntil } from '../helpers/wait.js';
import { parseExposition, type Sample } from '../metrics/exposition.js';
import { startDaemon } from './daemon.js';

const ONE_NODE = 'nodes:\n  - { name: alpha, address: 127.0.0.1, roles: [worker] }\n';
const TWO_NODES = `${ONE_NODE}  - { name: beta, address: 127.0.0.2, roles: [worker] }\n`;
const BAD = 'nodes:\n  - { name: alpha, address: 127.0.0.1, roles: [wizard] }\n';

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  return [...parseExposition(await response.text()).samples];
}

const nodesProbed = (samples: Sample[]) =>
  [
    ...new Set(samples.filter((s) => s.name === 'imanager_port_up').map((s) => s.labels.node)),
  ].sort();
const reloadOk = (samples: Sample[]) =>
  samples.find((s) => s.name === 'imanager_config_last_reload_successful')?.value;

/** Scrapes until `done` or the bounds, returning the last scrape for the caller to judge. */
function until(
  url: string,
  done: (samples: Sample[]) => boolean,
  deadlineMs = 10_000,
): Promise<Sample[]> {
  return readUntil(() => scrape(url), done, {
    timeoutMs: deadlineMs,
    intervalMs: 200,
    attempts: 100,
  });
}

async function start(extra: string[] = []) {
  const dir = await mkdtemp(join(tmpdir(), 'ipe-reload-'));
  const file = join(dir, 'config.yml');
  await writeFile(file, ONE_NODE);
  const daemon = await startDaemon(
    nodeArgv('src/main.ts', [
      `--config.file=${file}`,
      '--web.listen-address=127.0.0.1:0',
      '--probe.interval=1s',
      '--probe.timeout=200ms',
      '--probe.icmp=off',
      ...extra,
    ]),
    { ready: /"msg":"listening","url":"[^"]+"/ },
  );
  const url = /"msg":"listening","url":"([^"]+)"/.exec(daemon.log())?.[1] as string;
  await until(url, (s) => nodesProbed(s).length === 1);
  return { daemon, url, file };
}

describe('reload', () => {
  test('SIGHUP: a good file takes effect, a bad one is refused and the old config keeps running', async () => {
    const { daemon, url, file } = await start();
    try {
      assert.deepEqual(nodesProbed(await scrape(url)), ['alpha']);
      assert.equal(reloadOk(await scrape(url)), '1');

      await writeFile(file, TWO_NODES);
      daemon.child.kill('SIGHUP');
      let samples = await until(url, (s) => nodesProbed(s).length === 2);
      assert.deepEqual(nodesProbed(samples), ['alpha', 'beta']);
      assert.equal(reloadOk(samples), '1');

      await writeFile(file, BAD);
      daemon.child.kill('SIGHUP');
      samples = await until(url, (s) => reloadOk(s) === '0');
      assert.equal(reloadOk(samples), '0');
      assert.deepEqual(nodesProbed(samples), ['alpha', 'beta'], 'the old config keeps running');
      assert.match(daemon.log(), /"msg":"configuration reload refused[^\n]*roles\[0\]/);
      assert.equal(daemon.child.exitCode, null, 'still running');

      await writeFile(file, ONE_NODE);
      daemon.child.kill('SIGHUP');
      samples = await until(url, (s) => reloadOk(s) === '1' && nodesProbed(s).length === 1);
      assert.deepEqual(nodesProbed(samples), ['alpha']);
    } finally {
      await daemon.stop();
    }
  });

  test('POST /-/reload exists only with --web.enable-lifecycle, and says why a file is refused', async () => {
    const off = await start();
    try {
      const response = await fetch(`${off.url}/-/reload`, { method: 'POST' });
      assert.equal(response.status, 404);
    } finally {
      await off.daemon.stop();
    }

    const on = await start(['--web.enable-lifecycle']);
    try {
      assert.equal((await fetch(`${on.url}/-/reload`)).status, 405, 'GET does not reload');
      await writeFile(on.file, TWO_NODES);
      let response = await fetch(`${on.url}/-/reload`, { method: 'POST' });
      assert.equal(response.status, 200);
      assert.deepEqual(nodesProbed(await until(on.url, (s) => nodesProbed(s).length === 2)), [
        'alpha',
        'beta',
      ]);

      await writeFile(on.file, BAD);
      response = await fetch(`${on.url}/-/reload`, { method: 'POST' });
      assert.equal(response.status, 500);
      assert.match(await response.text(), /roles\[0\]: expected one of .* got "wizard"/);
      const samples = await scrape(on.url);
      assert.equal(reloadOk(samples), '0');
      assert.deepEqual(nodesProbed(samples), ['alpha', 'beta']);
    } finally {
      await on.daemon.stop();
    }
  });
});
