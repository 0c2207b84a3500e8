/**
 * Terminal habits: NO_COLOR, FORCE_COLOR, TERM=dumb and --color decide colour and
 * `\r` frames; tables fit the terminal's width. Commands run in-process with a
 * terminal or a pipe of the test's choosing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { wantsColour } from '../../src/cli/io.js';
import { renderTextTable } from '../../src/cli/table.js';
import { runInProcess, stripAnsi, writeConfig } from './commands/io.js';

const TTY = { isTTY: true, write() {} };
const PIPE = { isTTY: false, write() {} };

describe('colour', () => {
  test('the rules, in order: --color, NO_COLOR, FORCE_COLOR, TERM=dumb, a terminal', () => {
    const cases: [typeof TTY, Record<string, string>, 'auto' | 'always' | 'never', boolean][] = [
      [TTY, {}, 'auto', true],
      [PIPE, {}, 'auto', false],
      [TTY, { NO_COLOR: '1' }, 'auto', false],
      [TTY, { NO_COLOR: '' }, 'auto', true],
      [PIPE, { FORCE_COLOR: '1' }, 'auto', true],
      [PIPE, { FORCE_COLOR: '0' }, 'auto', false],
      [TTY, { NO_COLOR: '1', FORCE_COLOR: '1' }, 'auto', false],
      [TTY, { TERM: 'dumb' }, 'auto', false],
      [PIPE, { NO_COLOR: '1' }, 'always', true],
      [TTY, { FORCE_COLOR: '1' }, 'never', false],
    ];
    for (const [stream, env, mode, expected] of cases) {
      assert.equal(wantsColour(stream, env, mode), expected, `${JSON.stringify(env)} ${mode}`);
    }
  });

  test('check on a TERM=dumb terminal: no colour, no \\r frames; --color=always on a pipe: colour', async () => {
    const config = await writeConfig(
      'nodes:\n  - { name: a, address: 127.0.0.1, roles: [worker] }\n',
    );
    const dumb = await runInProcess(['check', `--config.file=${config}`, '--probe.icmp=off'], {
      stdoutIsTTY: true,
      stderrIsTTY: true,
      env: { TERM: 'dumb' },
    });
    assert.equal(stripAnsi(dumb.stdout), dumb.stdout);
    assert.ok(!dumb.stderr.includes('\r'), JSON.stringify(dumb.stderr));
    const forced = await runInProcess([
      'check',
      `--config.file=${config}`,
      '--probe.icmp=off',
      '--color=always',
    ]);
    assert.notEqual(stripAnsi(forced.stdout), forced.stdout);
  });
});

describe('width', () => {
  test('a table wider than the terminal wraps its last column under itself', () => {
    const table = {
      columns: [{ header: 'port', align: 'right' as const }, { header: 'purpose' }],
      rows: [
        ['6443', 'the Kubernetes API on the control plane; every node and every client needs it'],
      ],
    };
    const text = renderTextTable(table, { colour: false, width: 40 });
    const lines = text.trimEnd().split('\n');
    for (const line of lines) assert.ok(line.length <= 40, line);
    assert.equal(lines[1], '6443  the Kubernetes API on the control');
    assert.match(lines[2] ?? '', /^ {6}plane; every node/);
  });

  test('catalog on a 180-column terminal: the purpose wraps, no line longer than 180', async () => {
    const result = await runInProcess(['catalog'], { stdoutIsTTY: true, stdoutColumns: 180 });
    assert.equal(result.status, 0);
    for (const line of result.stdout.split('\n')) assert.ok(line.length <= 180, line);
    assert.match(result.stdout, /^ +6443 +kube-apiserver /m);
  });
});
