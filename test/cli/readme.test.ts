/**
 * The README's commands, run as written: every line of the block under "These run as
 * written" in "Before and after install: the commands" runs verbatim through `sh`, in a
 * network namespace the test made (preflight binds the catalog ports, check probes
 * 127.0.0.1: both stay inside it), from a project whose node_modules/.bin holds this
 * package's bin, as an install leaves it. What each line writes is read back: JSON
 * parses, the nftables script passes `nft -c -f`, the shell script passes `sh -n`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { createNetns } from '../helpers/netns.js';
import { collect } from '../helpers/node-child.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** The lines of the README's runnable block of commands. */
function readmeCommands(readme: string): string[] {
  const section = readme.slice(readme.indexOf('## Before and after install: the commands'));
  const from = section.indexOf('These run as written');
  const block = /```sh\n([\s\S]*?)```/.exec(section.slice(from));
  assert.ok(from >= 0 && block?.[1], 'the README has no runnable block of commands');
  return block[1].split('\n').filter((line) => line.trim() !== '');
}

function build(): Promise<void> {
  return new Promise((done, fail) => {
    execFile('npm', ['run', 'build'], { cwd: ROOT, timeout: 120_000 }, (error, _out, stderr) =>
      error ? fail(new Error(`npm run build: ${stderr}`)) : done(),
    );
  });
}

test("the README's commands run verbatim, and what they write is what it says", async (t) => {
  await build();
  const project = await mkdtemp(join(tmpdir(), 'ipe-readme-'));
  await writeFile(join(project, 'package.json'), '{"name": "readme-run", "private": true}\n');
  await mkdir(join(project, 'node_modules', '.bin'), { recursive: true });
  await symlink(
    join(ROOT, 'dist', 'main.js'),
    join(project, 'node_modules', '.bin', 'imanager-port-exporter'),
  );
  const ns = await createNetns('readme');
  t.after(() => ns.close());

  const lines = readmeCommands(await readFile(join(ROOT, 'README.md'), 'utf8'));
  assert.ok(lines.length >= 5, lines.join('\n'));
  for (const line of lines) {
    assert.match(line, /^npx imanager-port-exporter /, 'the one documented way to run it');
    const child = ns.spawn('sh', ['-c', `cd '${project}' && ${line}`], { timeoutMs: 120_000 });
    const result = await collect(child);
    // check and preflight report what they find (exit 1 when ports are closed or taken);
    // bad input (2) or a crash is the README's fault.
    assert.ok(
      result.code === 0 || result.code === 1,
      `${line}: exit ${result.code}\n${result.stderr}`,
    );
    assert.doesNotMatch(result.stderr, /\n\s+at /, `${line}: a stack trace`);
    const written = /> (\S+)$/.exec(line)?.[1];
    if (written === undefined) {
      assert.match(result.stdout, /^Usage: imanager-port-exporter /, line);
      continue;
    }
    const path = join(project, written);
    const text = await readFile(path, 'utf8');
    if (written.endsWith('.json')) {
      assert.equal(typeof JSON.parse(text), 'object', line);
    } else if (written.endsWith('.nft')) {
      assert.match(text, /^#!\/usr\/sbin\/nft -f\n/);
      await ns.exec('nft', ['-c', '-f', path]);
    } else if (written.endsWith('.sh')) {
      assert.match(text, /^#!\/bin\/sh\n/);
      await ns.exec('sh', ['-n', path]);
    } else if (written.endsWith('.md')) {
      assert.match(text, /^(\*\*Not as expected\*\*\n\n|\| )/, line);
    } else {
      assert.fail(`${line}: the test does not know how to read ${written}`);
    }
  }
});
