/**
 * Help per command, as a user runs it: `COMMAND --help` and `help COMMAND` exit 0 and
 * print that command's synopsis, its own flags (and no other command's), examples, exit
 * codes and environment; the global help lists every command.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMANDS, globalHelp } from '../../src/cli/index.js';
import { runNode } from '../helpers/node-child.js';

const MAIN = 'src/main.ts';

describe('help per command', () => {
  for (const command of COMMANDS) {
    test(`${command.name} --help: exit 0, its synopsis, flags, examples, exit codes`, async () => {
      const result = await runNode(MAIN, [command.name, '--help']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      const help = result.stdout;
      assert.match(help, new RegExp(`^Usage: imanager-port-exporter ${command.name}\\b`));
      for (const name of Object.keys(command.flags)) {
        assert.ok(help.includes(`--${name}`), `${command.name} --help lacks --${name}`);
      }
      for (const heading of ['Flags:', 'Examples:', 'Exit status:']) {
        assert.ok(help.includes(`\n${heading}\n`), `${command.name}: ${heading}`);
      }
      assert.match(help, /^ {2}npx imanager-port-exporter /m);
      assert.match(help, /^ {2}0 {2}/m);
      for (const line of help.split('\n')) assert.ok(line.length <= 100, line);
      const viaHelp = await runNode(MAIN, ['help', command.name]);
      assert.equal(viaHelp.code, 0);
      assert.equal(viaHelp.stdout, help);
    });
  }

  test("a command's help names no flag of another command", async () => {
    const check = (await runNode(MAIN, ['check', '--help'])).stdout;
    for (const flag of ['--format=', '--roles=', '--listen=', '--per-node=']) {
      assert.ok(!check.includes(flag), flag);
    }
    const firewall = (await runNode(MAIN, ['firewall', '--help'])).stdout;
    for (const flag of ['--probe.interval=', '--output=', '--vantage=']) {
      assert.ok(!firewall.includes(flag), flag);
    }
    assert.match(firewall, /^ {2}KUBECONFIG|Exit status:/m);
  });

  test('environment variables are listed where the command reads them', async () => {
    const check = (await runNode(MAIN, ['help', 'check'])).stdout;
    for (const name of ['KUBECONFIG', 'NODE_NAME', 'NO_COLOR'])
      assert.ok(check.includes(name), name);
  });

  test('the global help lists every command and the exporter flags', async () => {
    const result = await runNode(MAIN, ['--help']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, globalHelp());
    for (const command of COMMANDS)
      assert.match(result.stdout, new RegExp(`^ {2}${command.name} `, 'm'));
    assert.ok(result.stdout.includes('--web.listen-address=ADDRESS'));
    for (const line of result.stdout.split('\n')) assert.ok(line.length <= 100, line);
  });

  test('help of a command that does not exist, a flag of another command, a flag given twice: exit 2, one line', async () => {
    const cases: [string[], string][] = [
      [
        ['help', 'serve'],
        'command: expected one of check, preflight, catalog, firewall, help, got "serve"',
      ],
      [
        ['serve'],
        'command: expected one of check, preflight, catalog, firewall, help, got "serve"',
      ],
      [['check', '--format=ufw'], 'unknown flag --format for check'],
      [['catalog', 'extra'], 'catalog: unexpected argument "extra"'],
      [['--output=json'], 'unknown flag --output'],
      [
        ['check', '--output=json', '--output=table'],
        '--output: expected once, got it twice ("json", then "table")',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await runNode(MAIN, args);
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.stderr, `imanager-port-exporter: ${message}\n`);
    }
  });
});
