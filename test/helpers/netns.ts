/**
 * Throwaway network namespaces for tests that need a network the host does not
 * have: a firewall that drops SYNs (timeout), a route that answers "unreachable".
 *
 * A namespace made here has only its own loopback, brought up: nothing sent inside
 * it can leave it, and inside it the whole of 127.0.0.0/8 and ::1 belong to the
 * test. Rules and routes touch only the namespace, never the host.
 *
 * Needs root (ip netns add, nft). Without it createNetns fails with a message that
 * says so: a test that needs a firewall must not pass without one.
 *
 *   const ns = await createNetns('tcp-timeout');
 *   t.after(() => ns.close());
 *   await ns.dropTcp('127.0.0.1', 8080);
 *   const result = await ns.runNode('test/fixtures/probe-once.ts', ['127.0.0.1', '8080', '200']);
 *
 * Files for the namespace's own /etc (`etcFile('hosts', ...)`) go to /etc/netns/NAME/,
 * which `ip netns exec` bind-mounts over /etc for every command it starts there; they
 * are deleted with the namespace. test/helpers/testbed.ts builds a whole network of
 * these namespaces on a bridge.
 */
import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  type ChildResult,
  collect,
  type NodeChildOptions,
  nodeArgv,
  spawnWithDeadline,
} from './node-child.js';

export interface Netns {
  /** The namespace's name, as `ip netns` knows it. */
  readonly name: string;
  /** Runs a command inside the namespace; rejects with its stderr when it fails. */
  exec(cmd: string, args?: readonly string[]): Promise<{ stdout: string; stderr: string }>;
  /**
   * Starts `ip netns exec NAME [wrapper...] node --import tsx SCRIPT ARGS...`.
   * The child is killed by `close()` if it is still running.
   */
  spawnNode(scriptPath: string, args?: readonly string[], options?: NodeChildOptions): ChildProcess;
  /** `spawnNode`, then waits for the child and returns its exit and output. */
  runNode(
    scriptPath: string,
    args?: readonly string[],
    options?: NodeChildOptions,
  ): Promise<ChildResult>;
  /**
   * Starts `ip netns exec NAME COMMAND ARGS...` (any program: python3, dnsmasq, nmap),
   * with the deadline and stdin of `options`. Killed by `close()` if still running.
   */
  spawn(command: string, args?: readonly string[], options?: NodeChildOptions): ChildProcess;
  /** Loads an nft script (`nft -f -`) inside the namespace. */
  nft(script: string): Promise<void>;
  /**
   * Writes /etc/netns/NAME/FILE, which commands started in the namespace see as
   * /etc/FILE (hosts, resolv.conf). Returns the path written; `close()` deletes it.
   */
  etcFile(file: string, text: string): Promise<string>;
  /** Drops TCP SYNs to ip:port on arrival, like a firewall: a connect there times out. */
  dropTcp(ip: string, port: number): Promise<void>;
  /** Drops ICMP (v4 or v6) echo requests to ip on arrival: a ping there times out. */
  dropIcmpEcho(ip: string): Promise<void>;
  /**
   * Routes `ip` (IPv4, in 127.0.0.0/8, not 127.0.0.1) so that a connect to it fails at
   * once: `host` gives EHOSTUNREACH (an `unreachable` route), `network` gives
   * ENETUNREACH (a `throw` route: no route is found).
   */
  rejectUnreachable(ip: string, reply?: 'host' | 'network'): Promise<void>;
  /** Kills the children it started and deletes the namespace. Safe to call twice. */
  close(): Promise<void>;
}

// Every name starts with this marker and the creating pid, so a later run can tell
// the namespaces a killed run left behind from anyone else's.
const MARKER = 'ipe-test';
const COMMAND_TIMEOUT_MS = 10_000;
const NFT_TABLE = 'ipe_test';
// Where `ip netns exec` looks for a namespace's own /etc files.
const ETC_NETNS = '/etc/netns';

let counter = 0;
const live = new Set<string>();
let exitHookInstalled = false;
let staleSwept = false;

/** Makes a namespace named `ipe-test-<prefix>-<pid>-<n>` with `lo` up. */
export async function createNetns(prefix: string): Promise<Netns> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `createNetns(${JSON.stringify(prefix)}): network namespaces need root (ip netns add, nft); ` +
        `run the tests as root, e.g. sudo npm test`,
    );
  }
  installExitHook();
  if (!staleSwept) {
    staleSwept = true;
    await sweepStale();
  }

  const safePrefix = prefix
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 24);
  counter += 1;
  const name = `${MARKER}-${safePrefix}-${process.pid}-${counter}`;
  await run('ip', ['netns', 'add', name]);
  live.add(name);
  const children = new Set<ChildProcess>();
  let nftReady = false;
  let closed = false;

  // Input, not output: a drop on output fails the send with EPERM at once, which is
  // not what a firewall on the way looks like.
  const dropOnInput = async (match: string): Promise<void> => {
    if (!nftReady) {
      await nft(
        name,
        `table inet ${NFT_TABLE} {\n` +
          '  chain input { type filter hook input priority filter; policy accept; }\n' +
          '}\n',
      );
      nftReady = true;
    }
    await nft(name, `add rule inet ${NFT_TABLE} input ${match} drop\n`);
  };

  let etcWritten = false;
  const spawnTracked = (argv: readonly string[], options: NodeChildOptions): ChildProcess => {
    const child = spawnWithDeadline(['ip', 'netns', 'exec', name, ...argv], options);
    children.add(child);
    child.once('close', () => children.delete(child));
    return child;
  };

  const netns: Netns = {
    name,
    exec: (cmd, args = []) => run('ip', ['netns', 'exec', name, cmd, ...args]),
    spawnNode(scriptPath, args = [], options = {}) {
      return spawnTracked([...(options.wrapper ?? []), ...nodeArgv(scriptPath, args)], options);
    },
    spawn(command, args = [], options = {}) {
      return spawnTracked([...(options.wrapper ?? []), command, ...args], options);
    },
    async nft(script) {
      await nft(name, script);
    },
    async etcFile(file, text) {
      if (file === '' || file.includes('/') || file.startsWith('.')) {
        throw new Error(
          `etcFile: expected a plain file name such as hosts, got ${JSON.stringify(file)}`,
        );
      }
      const dir = join(ETC_NETNS, name);
      await mkdir(dir, { recursive: true });
      etcWritten = true;
      const path = join(dir, file);
      await writeFile(path, text);
      return path;
    },
    runNode(scriptPath, args = [], options = {}) {
      return collect(netns.spawnNode(scriptPath, args, options));
    },
    async dropTcp(ip, port) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new Error(`dropTcp: not a port: ${port}`);
      }
      await dropOnInput(`${daddr('dropTcp', ip)} tcp dport ${port} tcp flags & (syn | ack) == syn`);
    },
    async dropIcmpEcho(ip) {
      const match = isIP(ip) === 6 ? 'icmpv6 type echo-request' : 'icmp type echo-request';
      await dropOnInput(`${daddr('dropIcmpEcho', ip)} ${match}`);
    },
    async rejectUnreachable(ip, reply = 'host') {
      // 127.0.0.0/8 only: an address that no host routes off itself, so even a rule
      // that landed in the wrong namespace could not send a packet anywhere. The route
      // goes into table `local`, where 127/8 lives and which is looked up first.
      if (isIP(ip) !== 4 || !ip.startsWith('127.') || ip === '127.0.0.1') {
        throw new Error(
          `rejectUnreachable: use an IPv4 address in 127.0.0.0/8 other than 127.0.0.1, got ${ip}`,
        );
      }
      const type = reply === 'host' ? 'unreachable' : 'throw';
      await run('ip', [
        'netns',
        'exec',
        name,
        'ip',
        'route',
        'add',
        type,
        `${ip}/32`,
        'table',
        'local',
      ]);
    },
    async close() {
      if (closed) return;
      closed = true;
      // Killed by their own pid, first: a process still inside would keep the
      // namespace alive, nameless, after `ip netns del`.
      const exits: Promise<unknown>[] = [];
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) {
          exits.push(new Promise((resolve) => child.once('close', resolve)));
          child.kill('SIGKILL');
        }
      }
      await Promise.all(exits);
      await run('ip', ['netns', 'del', name]);
      if (etcWritten) await rm(join(ETC_NETNS, name), { recursive: true, force: true });
      live.delete(name);
    },
  };

  try {
    await netns.exec('ip', ['link', 'set', 'lo', 'up']);
  } catch (err) {
    await netns.close();
    throw err;
  }
  return netns;
}

/** The nft match on a destination address. */
function daddr(method: string, ip: string): string {
  const family = isIP(ip);
  if (family === 0) throw new Error(`${method}: not an IP literal: ${ip}`);
  return family === 4 ? `ip daddr ${ip}` : `ip6 daddr ${ip}`;
}

function nft(name: string, script: string): Promise<unknown> {
  return run('ip', ['netns', 'exec', name, 'nft', '-f', '-'], script);
}

const PACKAGE_OF: Readonly<Record<string, string>> = { ip: 'iproute2', nft: 'nftables' };

function run(
  cmd: string,
  args: readonly string[],
  input?: string,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ stdout, stderr });
        const code = (error as NodeJS.ErrnoException).code;
        const missing = code === 'ENOENT' && PACKAGE_OF[cmd];
        const hint = missing ? ` (${cmd} not found: install the Debian package ${missing})` : '';
        reject(
          new Error(`${cmd} ${args.join(' ')} failed${hint}: ${stderr.trim() || error.message}`, {
            cause: error,
          }),
        );
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

// A test that throws before its t.after ran, or a runner that exits early, still
// must not leave namespaces behind.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const name of live) {
      try {
        execFileSync('ip', ['netns', 'del', name], {
          stdio: 'ignore',
          timeout: COMMAND_TIMEOUT_MS,
        });
      } catch {
        // Nothing more can be done while exiting.
      }
      rmSync(join(ETC_NETNS, name), { recursive: true, force: true });
    }
  });
}

/**
 * Deletes namespaces, and their /etc/netns files, that runs killed with SIGKILL left
 * behind (their pid is gone).
 */
async function sweepStale(): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list']);
  const pattern = new RegExp(`^(${MARKER}-[a-z0-9-]*-(\\d+)-\\d+)(\\s|$)`);
  for (const line of stdout.split('\n')) {
    const match = pattern.exec(line);
    if (match === null) continue;
    const [, name, pid] = match;
    if (name === undefined || pid === undefined || isAlive(Number(pid))) continue;
    await run('ip', ['netns', 'del', name]).catch(() => undefined);
  }
  const dirs = await readdir(ETC_NETNS).catch(() => [] as string[]);
  for (const dir of dirs) {
    const match = pattern.exec(dir);
    if (match === null || isAlive(Number(match[2]))) continue;
    await rm(join(ETC_NETNS, dir), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
