/**
 * Runs a TypeScript script in a child Node process, for conditions a test cannot
 * make in its own process: another network namespace, fewer file descriptors,
 * fewer capabilities. Every child has a deadline, so a stuck child fails the test
 * instead of hanging the suite.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: children run here so `--import tsx` finds node_modules. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface NodeChildOptions {
  /**
   * Argv put before `node`, e.g. `['prlimit', '--nofile=64', '--']` or a `setpriv`
   * line. The wrapper must exec its command so the child's pid is node's.
   */
  readonly wrapper?: readonly string[];
  /** Killed (SIGKILL) after this long. Default 20 s. */
  readonly timeoutMs?: number;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** `pipe` for a child that takes commands on stdin; default `ignore`. */
  readonly stdin?: 'ignore' | 'pipe';
}

/** The argv that runs `scriptPath` under tsx with this process's own node binary. */
export function nodeArgv(scriptPath: string, args: readonly string[]): string[] {
  return [process.execPath, '--import', 'tsx', scriptPath, ...args];
}

/** Spawns `argv` with a deadline; the child is SIGKILLed when it passes. */
export function spawnWithDeadline(argv: readonly string[], options: NodeChildOptions = {}) {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('spawnWithDeadline: empty argv');
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  child.once('exit', () => clearTimeout(timer));
  child.once('error', () => clearTimeout(timer));
  return child;
}

/** Runs a script in a child node (optionally under a wrapper) and collects its output. */
export function runNode(
  scriptPath: string,
  args: readonly string[] = [],
  options: NodeChildOptions = {},
): Promise<ChildResult> {
  const argv = [...(options.wrapper ?? []), ...nodeArgv(scriptPath, args)];
  return collect(spawnWithDeadline(argv, options));
}

/** Waits for a child to exit and returns what it wrote. Rejects only if it never started. */
export function collect(child: ChildProcess): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', (error: NodeJS.ErrnoException) => {
      const hint = error.code === 'ENOENT' ? `; is ${String(child.spawnargs[0])} installed?` : '';
      reject(new Error(`could not start ${child.spawnargs.join(' ')}${hint}`, { cause: error }));
    });
    // 'close', not 'exit': it comes after stdout and stderr have ended.
    child.once('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}
