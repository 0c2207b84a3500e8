/**
 * The benchmark's child processes: each started in a process group of its own, so
 * that killing it also kills what it started (GNU time's command, `ip netns exec`'s
 * program), and every one is killed, by its own group id, when the benchmark ends —
 * normally, on an error or on Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface StartOptions {
  readonly cwd: string;
  /** Where stderr goes: collected (default) or a file descriptor (e.g. of a log file). */
  readonly stderrFd?: number;
  /** Give the child a stdin pipe (for commands); default none. */
  readonly stdin?: boolean;
}

export class Children {
  readonly #live = new Set<ChildProcess>();

  /** Starts `argv` in its own process group; the caller reads its stdout. */
  start(argv: readonly string[], options: StartOptions): ChildProcess {
    const [command, ...args] = argv;
    if (command === undefined) throw new Error('Children.start: empty argv');
    const child = spawn(command, args, {
      cwd: options.cwd,
      detached: true,
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', options.stderrFd ?? 'pipe'],
    });
    this.#live.add(child);
    child.once('exit', () => this.#live.delete(child));
    child.once('error', () => this.#live.delete(child));
    return child;
  }

  /** Runs `argv` to its end; killed, with its group, after `deadlineMs`. */
  async run(argv: readonly string[], options: StartOptions & { deadlineMs: number }) {
    const child = this.start(argv, options);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, options.deadlineMs);
    try {
      const [code, signal] = (await Promise.race([
        once(child, 'close'),
        once(child, 'error').then(([error]) => {
          throw new Error(`could not start ${argv.join(' ')}: ${(error as Error).message}`, {
            cause: error,
          });
        }),
      ])) as [number | null, NodeJS.Signals | null];
      const result: RunResult = {
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (timedOut) {
        throw new Error(`${argv.join(' ')}: killed after ${options.deadlineMs} ms`);
      }
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills one child's group and waits for it to exit. */
  async stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    killGroup(child);
    await exited;
  }

  /** Synchronous, so it can run in an 'exit' handler: SIGKILL to every live group. */
  killAll(): void {
    for (const child of this.#live) killGroup(child);
    this.#live.clear();
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    // Negative: the group this child leads (detached), i.e. it and what it started.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
