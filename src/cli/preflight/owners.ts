/**
 * Which process holds a port: the port's sockets from /proc/net/tcp{,6}, their inodes
 * looked up among every process's open files in /proc/PID/fd. Reading another user's
 * fds needs root; without it the answer says it is incomplete instead of guessing.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type ProcSocket, parseProcNetTcp, socketInode, TCP_LISTEN } from './proc-net.js';

export interface SocketOwner {
  readonly pid: number;
  /** /proc/PID/comm: the program's short name. */
  readonly command: string;
  /** /proc/PID/cmdline with spaces between the arguments; may be empty. */
  readonly cmdline: string;
}

export interface PortHolders {
  /** Local addresses with a socket on the port; listeners first. */
  readonly addresses: readonly string[];
  readonly owners: readonly SocketOwner[];
  /** False when some processes' open files could not be read (not root). */
  readonly searchedAll: boolean;
}

export interface FindOwnersOptions {
  /** Default /proc; tests point it at a tree of their own. */
  readonly procRoot?: string;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The holders of each port, by port; a port with no socket in /proc has none. */
export async function findPortHolders(
  ports: Iterable<number>,
  options: FindOwnersOptions = {},
): Promise<Map<number, PortHolders>> {
  const proc = options.procRoot ?? '/proc';
  const wanted = new Set(ports);
  const sockets: ProcSocket[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const text = await readText(join(proc, 'net', table));
    if (text !== undefined) sockets.push(...parseProcNetTcp(text));
  }
  const onPorts = sockets.filter((s) => wanted.has(s.port) && s.inode !== 0);
  const portOfInode = new Map<number, number>();
  for (const socket of onPorts) portOfInode.set(socket.inode, socket.port);

  const owners = new Map<number, SocketOwner[]>();
  let searchedAll = true;
  if (portOfInode.size > 0) {
    const pids = (await readdir(proc)).filter((name) => /^\d+$/.test(name));
    for (const pid of pids) {
      let fds: string[];
      try {
        fds = await readdir(join(proc, pid, 'fd'));
      } catch (error) {
        // A process that exited meanwhile held nothing; one we may not read might have.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') searchedAll = false;
        continue;
      }
      const found = new Set<number>();
      for (const fd of fds) {
        const link = await readlink(join(proc, pid, 'fd', fd)).catch(() => '');
        const inode = socketInode(link);
        const port = inode === undefined ? undefined : portOfInode.get(inode);
        if (port !== undefined) found.add(port);
      }
      if (found.size === 0) continue;
      const owner = await describeProcess(proc, Number(pid));
      for (const port of found) owners.set(port, [...(owners.get(port) ?? []), owner]);
    }
  }

  const holders = new Map<number, PortHolders>();
  for (const port of wanted) {
    const here = onPorts
      .filter((s) => s.port === port)
      .sort((a, b) => Number(b.state === TCP_LISTEN) - Number(a.state === TCP_LISTEN));
    if (here.length === 0) continue;
    holders.set(port, {
      addresses: [...new Set(here.map((s) => s.localAddress))],
      owners: owners.get(port) ?? [],
      searchedAll,
    });
  }
  return holders;
}

async function describeProcess(proc: string, pid: number): Promise<SocketOwner> {
  const comm = (await readText(join(proc, String(pid), 'comm'))) ?? '';
  const cmdline = (await readText(join(proc, String(pid), 'cmdline'))) ?? '';
  return {
    pid,
    command: comm.trim(),
    cmdline: cmdline.split('\u0000').filter(Boolean).join(' '),
  };
}
