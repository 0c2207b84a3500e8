/**
 * The program as a user runs it, handed nasty config files: binary garbage, 10 MB of
 * YAML, a YAML bomb of aliases, a directory, unicode that breaks lines. Each must end
 * with exit status 2 and one line on stderr that says what is wrong: no stack trace,
 * no Node warning, no hang.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collect, nodeArgv, runNode, spawnWithDeadline } from '../helpers/node-child.js';

const MAIN = 'src/main.ts';
const PROGRAM = 'imanager-port-exporter';

/** A child must give up within this: parsing 10 MB here takes a few seconds. */
const CHILD_DEADLINE_MS = 60_000;

/** Deterministic bytes (xorshift32), so a failure names an input that can be made again. */
function garbage(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** Billion laughs: nine levels of nine aliases each, 9^9 strings once expanded. */
function yamlBomb(): string {
  const lines = ['a0: &a0 "lol"'];
  for (let level = 1; level <= 9; level++) {
    const refs = Array.from({ length: 9 }, () => `*a${level - 1}`).join(', ');
    lines.push(`a${level}: &a${level} [${refs}]`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * About 10 MB of valid nodes with long names, and one bad role at the very end. (Long
 * names, not 160,000 short nodes: the yaml library parses small mappings at well under
 * 1 MB/s on a busy machine, which would only measure the library.)
 */
function hugeNodeList(): string {
  const lines = ['nodes:'];
  const long = 'n'.repeat(1000);
  let size = 0;
  for (let i = 0; size < 10 * 1024 * 1024; i++) {
    const line = `  - { name: ${long}-${i}, address: 10.${(i >> 8) & 255}.${i & 255}.1, roles: [worker] }`;
    lines.push(line);
    size += line.length + 1;
  }
  lines.push('  - { name: last, address: 10.255.255.255, roles: [master] }');
  return `${lines.join('\n')}\n`;
}

interface Case {
  readonly name: string;
  /** The file's content; a directory when undefined. */
  readonly content?: string | Buffer;
  /** What the one line must say. */
  readonly says: RegExp;
}

const CASES: readonly Case[] = [
  // The YAML library quotes a whole garbage token in its message: 30,000 characters.
  // Random bytes are not UTF-8, and a decoder that replaced them would hide it.
  {
    name: 'binary garbage',
    content: garbage(64 * 1024, 0x5eed),
    says: /: not valid UTF-8 at byte \d+$/,
  },
  {
    name: 'binary garbage that starts like YAML',
    content: Buffer.concat([Buffer.from('nodes:\n  - '), garbage(4096, 42)]),
    says: /: not valid UTF-8 at byte \d+$/,
  },
  // Past the size cap, refused before parsing (a 50 MB file took 20 s and 2 GB).
  {
    name: 'a 10 MB YAML with one bad value at the end',
    content: hugeNodeList(),
    says: /: the file is \d+ bytes; a config file may be at most 4194304 bytes \(4 MiB\)$/,
  },
  {
    name: 'a 10 MB scalar',
    content: `${'x'.repeat(10 * 1024 * 1024)}\n`,
    says: /: the file is 10485761 bytes; a config file may be at most/,
  },
  {
    name: 'YAML garbage that is valid UTF-8',
    content: `nodes:\n  - ${garbage(4096, 42)
      .toString('latin1')
      .replace(/[^\u0020-\u007e\u00a0-\u00ff]/g, '')}`,
    says: /line \d+, column \d+: |: expected /,
  },
  { name: 'a YAML bomb of aliases', content: yamlBomb(), says: /alias/i },
  { name: 'a directory', says: /cannot read: EISDIR/ },
  {
    name: 'unicode line breaks in a key',
    content:
      'nodes:\n  - { name: a, address: 127.0.0.1, roles: [worker], "r\u2028o\u0085les\u2029": [] }\n',
    says: /nodes\[0\]: expected no control characters, got U\+0085 in a key$/,
  },
  {
    name: 'unicode everywhere',
    content:
      '\ufeff# 配置 🙂\nnodes:\n  - name: "ноды-1"\n    address: "عنوان"\n    roles: [worker]\n',
    says: /nodes\[0\]\.(name|address): /,
  },
  {
    name: 'a NUL and control characters',
    content: 'nodes: "\u0000\u0007\u001b[31mred"\n',
    says: /nodes: expected no control characters, got U\+0000$/,
  },
  {
    name: 'a collection as a key',
    content: '? [nodes]\n: []\n',
    says: /unknown key/,
  },
];

describe('the program with nasty config files', { concurrency: 3 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipe-nasty-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const [i, c] of CASES.entries()) {
    it(`${c.name}: exit 2 and one line`, { timeout: CHILD_DEADLINE_MS + 5_000 }, async () => {
      const path = join(dir, c.content === undefined ? `case-${i}.d` : `case-${i}.yml`);
      if (c.content === undefined) await mkdir(path);
      else await writeFile(path, c.content);
      const result = await runNode(
        MAIN,
        [`--config.file=${path}`, '--web.listen-address=127.0.0.1:0', '--probe.icmp=off'],
        { timeoutMs: CHILD_DEADLINE_MS },
      );
      assert.equal(
        result.signal,
        null,
        `killed at the deadline: it hung. stderr: ${result.stderr}`,
      );
      assert.equal(result.code, 2, `exit ${result.code}; stderr: ${result.stderr.slice(0, 2000)}`);
      assert.equal(result.stdout, '');
      const lines = result.stderr.split('\n');
      assert.equal(lines.at(-1), '', 'ends with a newline');
      assert.equal(lines.length, 2, `one line, got:\n${result.stderr.slice(0, 2000)}`);
      const [line = ''] = lines;
      assert.ok(line.startsWith(`${PROGRAM}: ${path}: `), line);
      assert.doesNotMatch(line, /[\r\u0085\u2028\u2029]/, 'no other line break either');
      assert.doesNotMatch(line, /\bat \S+ \(|node:internal|Warning:/);
      assert.ok(line.length < 600, `${line.length} characters`);
      assert.match(line, c.says);
    });
  }

  // One test a flag: each run is a whole process start (seconds on a loaded machine).
  for (const args of [
    ['--probe.interval=\u2028'],
    ['--web.listen-address=\u001b[2J:1'],
    [`--probe.concurrency=${'9'.repeat(10_000)}`],
    ['--config.file='],
    ['--vantage=ノード'],
  ]) {
    it(`nasty flag value ${JSON.stringify(args[0]).slice(0, 40)}: exit 2 and one line`, {
      timeout: CHILD_DEADLINE_MS + 5_000,
    }, async () => {
      const result = await runNode(MAIN, args, { timeoutMs: CHILD_DEADLINE_MS });
      assert.equal(result.code, 2, `${JSON.stringify(args)}: ${result.stderr}`);
      const lines = result.stderr.split('\n');
      assert.equal(lines.length, 2, `${JSON.stringify(args)}: one line, got:\n${result.stderr}`);
      assert.match(lines[0] ?? '', /^imanager-port-exporter: --[\w.-]+: /);
      assert.doesNotMatch(lines[0] ?? '', /[\r\u0085\u2028\u2029]/);
    });
  }
});

describe('the program with a garbage kubeconfig', { concurrency: 3 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipe-kubeconfig-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const KUBECONFIGS: readonly { name: string; content: string | Buffer; says: RegExp }[] = [
    // The YAML parser's message is five lines with a picture of the line.
    {
      name: 'broken YAML',
      content: 'garbage: [\n',
      says: /cannot load kubeconfig .*: unexpected end/,
    },
    { name: 'binary garbage', content: garbage(3000, 7), says: /cannot load kubeconfig / },
    { name: 'a word', content: 'hello\n', says: /no current context with a cluster server/ },
    { name: 'wrong types', content: 'clusters: 5\ncontexts: x\n', says: /kubeconfig / },
  ];
  for (const [i, c] of KUBECONFIGS.entries()) {
    it(`${c.name}: exit 2 and one line`, { timeout: CHILD_DEADLINE_MS + 5_000 }, async () => {
      const path = join(dir, `kubeconfig-${i}`);
      await writeFile(path, c.content);
      const result = await runNode(
        MAIN,
        [
          '--discovery=kubernetes',
          `--kubeconfig=${path}`,
          '--web.listen-address=127.0.0.1:0',
          '--probe.icmp=off',
        ],
        { timeoutMs: CHILD_DEADLINE_MS },
      );
      assert.equal(result.code, 2, `exit ${result.code}; stderr: ${result.stderr.slice(0, 2000)}`);
      const lines = result.stderr.split('\n');
      assert.equal(lines.length, 2, `one line, got:\n${result.stderr.slice(0, 2000)}`);
      assert.ok(lines[0]?.startsWith(`${PROGRAM}: `), lines[0]);
      assert.match(lines[0] ?? '', c.says);
      assert.doesNotMatch(lines[0] ?? '', /\bat \S+ \(|node:internal/);
    });
  }
});

describe('the running exporter', () => {
  it('writes only JSON lines: Node warnings and console output included', {
    timeout: 60_000,
  }, async () => {
    const warn = fileURLToPath(new URL('../fixtures/emit-warning.mjs', import.meta.url));
    const child = spawnWithDeadline(
      nodeArgv(MAIN, ['--web.listen-address=127.0.0.1:0', '--probe.icmp=off']),
      { env: { NODE_OPTIONS: `--import=${warn}` }, timeoutMs: 50_000 },
    );
    const done = collect(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    // Bounded: the child's own deadline ends it at the latest.
    for (let i = 0; i < 400 && !stderr.includes('console output'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill('SIGTERM');
    const result = await done;
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    const parsed = lines.map((line) => {
      try {
        return JSON.parse(line) as { msg: string; name?: string; text?: string };
      } catch {
        return assert.fail(`not a JSON line: ${line}`);
      }
    });
    const warnings = parsed.filter((l) => l.msg === 'node warning').map((l) => l.name);
    assert.deepEqual(warnings.sort(), ['MaxListenersExceededWarning', 'Warning', 'Warning']);
    assert.ok(
      parsed.some(
        (l) => l.msg === 'console output' && l.text === 'a library writing to the console',
      ),
    );
  });
});
