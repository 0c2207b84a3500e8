import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createNetns } from './netns.js';
import { collect, runNode } from './node-child.js';

const FIXTURE = 'test/fixtures/probe-netns.ts';
const execFileAsync = promisify(execFile);

async function namespaces(): Promise<string[]> {
  const { stdout } = await execFileAsync('ip', ['netns', 'list'], { timeout: 10_000 });
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(' ')[0] as string);
}

describe('createNetns', { timeout: 60_000 }, () => {
  test('makes a uniquely named namespace with only lo, up; close deletes it', async (t) => {
    const first = await createNetns('helper');
    const second = await createNetns('helper');
    t.after(() => Promise.all([first.close(), second.close()]));
    assert.notEqual(first.name, second.name);
    assert.match(first.name, new RegExp(`^ipe-test-helper-${process.pid}-\\d+$`));
    const listed = await namespaces();
    assert.ok(listed.includes(first.name) && listed.includes(second.name), listed.join(','));

    const { stdout } = await first.exec('ip', ['-o', 'link', 'show']);
    const links = stdout.split('\n').filter((line) => line !== '');
    assert.equal(links.length, 1, stdout);
    assert.match(links[0] as string, /^1: lo: <LOOPBACK,UP,LOWER_UP>/);

    await first.close();
    await first.close();
    assert.ok(!(await namespaces()).includes(first.name));
  });

  test('exec rejects with the command and its stderr', async (t) => {
    const ns = await createNetns('helper-exec');
    t.after(() => ns.close());
    await assert.rejects(ns.exec('ip', ['route', 'add', 'nonsense']), /ip netns exec .* failed: /);
  });

  test('dropTcp and dropIcmpEcho add input drop rules inside the namespace only', async (t) => {
    const ns = await createNetns('helper-nft');
    t.after(() => ns.close());
    await ns.dropTcp('127.0.0.1', 8080);
    await ns.dropTcp('::1', 8443);
    await ns.dropIcmpEcho('127.0.0.7');
    const { stdout } = await ns.exec('nft', ['list', 'chain', 'inet', 'ipe_test', 'input']);
    assert.match(stdout, /hook input/);
    assert.match(stdout, /ip daddr 127\.0\.0\.1 tcp dport 8080 tcp flags syn \/ syn,ack drop/);
    assert.match(stdout, /ip6 daddr ::1 tcp dport 8443 tcp flags syn \/ syn,ack drop/);
    assert.match(stdout, /ip daddr 127\.0\.0\.7 icmp type echo-request drop/);
    // The host's ruleset has no such table.
    const host = await execFileAsync('nft', ['list', 'tables'], { timeout: 10_000 });
    assert.doesNotMatch(host.stdout, /ipe_test/);
    await assert.rejects(ns.dropTcp('localhost', 80), /not an IP literal/);
    await assert.rejects(ns.dropTcp('127.0.0.1', 0), /not a port/);
  });

  test('rejectUnreachable accepts 127/8 addresses only, never 127.0.0.1', async (t) => {
    const ns = await createNetns('helper-route');
    t.after(() => ns.close());
    for (const ip of ['192.0.2.1', '::1', '127.0.0.1', '10.0.0.1']) {
      await assert.rejects(ns.rejectUnreachable(ip), /127\.0\.0\.0\/8/, ip);
    }
    await ns.rejectUnreachable('127.9.9.9');
    await ns.rejectUnreachable('127.9.9.10', 'network');
    const { stdout } = await ns.exec('ip', ['route', 'show', 'table', 'local']);
    assert.match(stdout, /^unreachable 127\.9\.9\.9 /m);
    assert.match(stdout, /^throw 127\.9\.9\.10 /m);
  });

  test('spawnNode runs inside the namespace; close kills the child first', async (t) => {
    const ns = await createNetns('helper-spawn');
    t.after(() => ns.close());
    const child = ns.spawnNode(FIXTURE, ['idle']);
    const output = collect(child);
    const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
    assert.deepEqual(JSON.parse(line.toString()), { interfaces: ['lo'] });
    await ns.close();
    const { signal } = await output;
    assert.equal(signal, 'SIGKILL');
    assert.ok(!(await namespaces()).includes(ns.name));
  });

  test('spawn runs any command inside; nft loads a script there only', async (t) => {
    const ns = await createNetns('helper-spawn-any');
    t.after(() => ns.close());
    const { code, stdout } = await collect(ns.spawn('ip', ['-o', 'link', 'show']));
    assert.equal(code, 0);
    assert.match(stdout, /^1: lo: /);
    assert.doesNotMatch(stdout, /^2: /m);
    await ns.nft(
      'table inet ipe_spawn_any {\n  chain input {\n' +
        '    type filter hook input priority filter; policy accept;\n  }\n}\n',
    );
    assert.match((await ns.exec('nft', ['list', 'tables'])).stdout, /table inet ipe_spawn_any/);
    const host = await execFileAsync('nft', ['list', 'tables'], { timeout: 10_000 });
    assert.doesNotMatch(host.stdout, /ipe_spawn_any/);
    await assert.rejects(ns.nft('table inet {\n'), /nft -f - failed/);
  });

  test('etcFile is what commands in the namespace see as /etc/FILE; close deletes it', async () => {
    const ns = await createNetns('helper-etc');
    const text = '127.0.0.1\tlocalhost\n198.18.0.9\tetc-file.bed.test\n';
    const path = await ns.etcFile('hosts', text);
    assert.equal(path, `/etc/netns/${ns.name}/hosts`);
    assert.equal(readFileSync(path, 'utf8'), text);
    const inside = await ns.exec('getent', ['hosts', 'etc-file.bed.test']);
    assert.match(inside.stdout, /^198\.18\.0\.9\s+etc-file\.bed\.test$/m);
    const { stdout } = await collect(ns.spawn('cat', ['/etc/hosts']));
    assert.equal(stdout, text);
    // The host's own /etc/hosts is untouched.
    assert.doesNotMatch(readFileSync('/etc/hosts', 'utf8'), /etc-file\.bed\.test/);
    for (const bad of ['', '../passwd', 'a/b', '.hidden']) {
      await assert.rejects(ns.etcFile(bad, ''), /plain file name/, bad);
    }
    await ns.close();
    assert.ok(!existsSync(`/etc/netns/${ns.name}`));
  });

  test('a process that exits without close() still deletes its namespace and its /etc files', async () => {
    const { code, stdout, stderr } = await runNode(FIXTURE, ['leave-open']);
    assert.equal(code, 0, stderr);
    const { name, etc } = JSON.parse(stdout) as { name: string; etc: string };
    assert.match(name, /^ipe-test-fixture-\d+-1$/);
    assert.equal(etc, `/etc/netns/${name}/hosts`);
    assert.ok(!(await namespaces()).includes(name));
    assert.ok(!existsSync(`/etc/netns/${name}`));
  });

  test('namespaces and /etc files left by a killed run (its pid gone) are swept on the next start', async (t) => {
    // A pid that is certainly gone: a child that has exited.
    const gone = (await execFileAsync('sh', ['-c', 'echo $$'])).stdout.trim();
    const stale = `ipe-test-stale-${gone}-1`;
    await execFileAsync('ip', ['netns', 'add', stale]);
    mkdirSync(`/etc/netns/${stale}`, { recursive: true });
    writeFileSync(`/etc/netns/${stale}/hosts`, '');
    t.after(async () => {
      await execFileAsync('ip', ['netns', 'del', stale]).catch(() => undefined);
      rmSync(`/etc/netns/${stale}`, { recursive: true, force: true });
    });
    const { code, stderr } = await runNode(FIXTURE, ['create']);
    assert.equal(code, 0, stderr);
    assert.ok(!(await namespaces()).includes(stale));
    assert.ok(!existsSync(`/etc/netns/${stale}`));
  });

  test('without root it fails, saying root is needed, and creates nothing', async () => {
    const { code, stdout, stderr } = await runNode(FIXTURE, ['create'], {
      wrapper: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'],
    });
    assert.equal(code, 0, stderr);
    const { error } = JSON.parse(stdout) as { error?: string };
    assert.match(error ?? '', /need root/);
    // Other test files make namespaces at the same time: look for the fixture's only.
    const made = (await namespaces()).filter((name) => name.startsWith('ipe-test-fixture-'));
    assert.deepEqual(made, []);
  });
});
