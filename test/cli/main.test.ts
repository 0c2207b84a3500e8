/**
 * The program as a user runs it: src/main.ts in a child process. Bad input exits 2
 * with one line and no stack trace; a signal stops it cleanly.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { collect, nodeArgv, runNode, spawnWithDeadline } from '../helpers/node-child.js';

const MAIN = 'src/main.ts';

function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0] ?? '', /^imanager-port-exporter: /);
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(stderr, /\n\s+at /, 'stack trace in output');
}

describe('main', () => {
  test('--help prints the flags and exits 0', async () => {
    const result = await runNode(MAIN, ['--help']);
    assert.equal(result.code, 0);
    for (const flag of ['--config.file', '--web.listen-address', '--probe.interval']) {
      assert.ok(result.stdout.includes(flag), flag);
    }
  });

  test('--version names the program and its version', async () => {
    const result = await runNode(MAIN, ['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^imanager-port-exporter \d+\.\d+\.\d+ \(Node\.js v\d+/);
  });

  test('bad input exits 2 with one line naming what was wrong', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipe-main-'));
    const badRole = join(dir, 'bad-role.yml');
    await writeFile(badRole, 'nodes:\n  - { name: a, address: 127.0.0.1, roles: [master] }\n');
    const table: [string[], RegExp][] = [
      [['--probe.interval=fast'], /--probe\.interval: .*got "fast"/],
      [['--no-such-flag'], /unknown flag --no-such-flag/],
      [[`--config.file=${join(dir, 'missing.yml')}`], /missing\.yml/],
      [[`--config.file=${badRole}`], /nodes\[0\]\.roles\[0\]: .*got "master"/],
    ];
    for (const [args, pattern] of table) {
      const result = await runNode(MAIN, args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assertOneLineError(result.stderr, pattern);
    }
  });

  test('a listen address already in use is one line and exit 1', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const result = await runNode(MAIN, [
        `--web.listen-address=127.0.0.1:${port}`,
        '--probe.icmp=off',
      ]);
      assert.equal(result.code, 1);
      const last = result.stderr.trimEnd().split('\n').at(-1) ?? '';
      assert.match(last, /^imanager-port-exporter: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE$/);
      assert.doesNotMatch(result.stderr, /\n\s+at /);
    } finally {
      server.close();
    }
  });

  test('SIGTERM stops probing and serving and exits 0 within 5 s', async () => {
    const child = spawnWithDeadline(
      nodeArgv(MAIN, ['--web.listen-address=127.0.0.1:0', '--probe.icmp=off']),
      { timeoutMs: 60_000 },
    );
    const done = collect(child);
    // The "listening" log line says the exporter is up.
    const stderr = child.stderr as NodeJS.ReadableStream;
    let seen = '';
    while (!seen.includes('"msg":"listening"')) {
      const [chunk] = (await once(stderr, 'data')) as [Buffer];
      seen += chunk.toString();
    }
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.kill('SIGTERM');
    const result = await done;
    clearTimeout(killer);
    assert.equal(result.signal, null, 'it had to be killed: it did not stop within 5 s');
    assert.equal(result.code, 0);
    for (const line of (seen + result.stderr).trim().split('\n')) {
      assert.doesNotThrow(() => JSON.parse(line), `not a JSON log line: ${line}`);
    }
  });
});
