/**
 * The `helm test` hook and the install notes, run for real: the hook pod's own command
 * against an exporter started from this repository on loopback (it must pass), and
 * against a port where nothing listens (it must fail); NOTES.txt rendered by
 * `helm install --dry-run=client` for every scenario.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Daemon, freePort, startDaemon } from '../e2e/daemon.js';
import { collect, nodeArgv, spawnWithDeadline } from '../helpers/node-child.js';
import {
  byKind,
  CHART_DIR,
  type Container,
  ciScenarios,
  helm,
  NAMESPACE,
  podSpec,
  RELEASE,
  render,
} from './chart.js';

async function hookContainer(): Promise<Container> {
  const [pod] = byKind(await render(), 'Pod');
  assert.ok(pod, 'a helm test pod');
  const [container] = podSpec(pod).containers;
  assert.ok(container);
  return container;
}

/** Runs the hook container's command with this machine's node, METRICS_URL pointed at `url`. */
async function runHook(container: Container, url: string) {
  const [command, ...rest] = [...(container.command ?? []), ...(container.args ?? [])];
  assert.equal(command, 'node', 'the hook runs the image node');
  const env = Object.fromEntries((container.env ?? []).map((env) => [env.name, env.value ?? '']));
  assert.ok(env.METRICS_URL, 'the hook is told where /metrics is');
  return collect(
    spawnWithDeadline([process.execPath, ...rest], {
      env: { ...env, METRICS_URL: url },
      timeoutMs: 30_000,
    }),
  );
}

describe('the helm test hook', () => {
  let exporter: Daemon;
  let port: number;
  before(async () => {
    port = await freePort();
    exporter = await startDaemon(
      nodeArgv('src/main.ts', [
        `--web.listen-address=127.0.0.1:${port}`,
        '--discovery=static',
        '--probe.icmp=off',
      ]),
      { ready: /"msg":"listening"/ },
    );
  });
  after(async () => {
    await exporter?.stop();
  });

  it('passes against a running exporter', async () => {
    const result = await runHook(await hookContainer(), `http://127.0.0.1:${port}/metrics`);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /imanager_exporter_build_info present/);
  });

  it('fails where nothing answers', async () => {
    const closed = await freePort();
    const result = await runHook(await hookContainer(), `http://127.0.0.1:${closed}/metrics`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /fetch failed|ECONNREFUSED/);
  });

  it('fails on a page without the exporter metrics', async () => {
    const result = await runHook(await hookContainer(), `http://127.0.0.1:${port}/`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no imanager_exporter_build_info/);
  });
});

describe('NOTES.txt', () => {
  for (const scenario of ciScenarios()) {
    it(`renders for ${scenario.name}`, async () => {
      const run = await helm([
        'install',
        RELEASE,
        CHART_DIR,
        '--namespace',
        NAMESPACE,
        '--dry-run=client',
        '-f',
        scenario.file,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const notes = run.stdout.slice(run.stdout.indexOf('NOTES:'));
      assert.match(
        notes,
        /^NOTES:\nimanager-port-exporter \S+ is installed in namespace monitoring/,
      );
      assert.match(notes, /helm test ipe -n monitoring/);
      assert.doesNotMatch(notes, /<no value>|%!/, 'no missing value in the notes');
    });
  }
});
