/**
 * Runs a one-shot command in-process, as main would, with streams the test reads:
 * a terminal or a pipe, NO_COLOR set or not.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCommand, runCommand } from '../../../src/cli/index.js';
import type { CommandIo } from '../../../src/cli/io.js';

export interface CapturedIo extends CommandIo {
  stdoutText(): string;
  stderrText(): string;
}

export interface CaptureOptions {
  readonly stdoutIsTTY?: boolean;
  readonly stderrIsTTY?: boolean;
  /** The terminal's width, given to stdout. */
  readonly stdoutColumns?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
}

export function captureIo(options: CaptureOptions = {}): CapturedIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    stdout: {
      write: (text) => out.push(text),
      isTTY: options.stdoutIsTTY ?? false,
      ...(options.stdoutColumns !== undefined && { columns: options.stdoutColumns }),
    },
    stderr: { write: (text) => err.push(text), isTTY: options.stderrIsTTY ?? false },
    env: options.env ?? {},
    ...(options.signal && { stopSignal: () => options.signal as AbortSignal }),
    stdoutText: () => out.join(''),
    stderrText: () => err.join(''),
  };
}

export interface InProcessResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** findCommand(argv) then runCommand, as main does. */
export async function runInProcess(
  argv: readonly string[],
  options: CaptureOptions = {},
): Promise<InProcessResult> {
  const command = findCommand(argv);
  if (!command) throw new Error(`no command in ${argv.join(' ')}`);
  const io = captureIo(options);
  const status = await runCommand(command, argv, io);
  return { status, stdout: io.stdoutText(), stderr: io.stderrText() };
}

/** Writes a config file into a fresh temporary directory; returns its path. */
export async function writeConfig(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ipe-cli-'));
  const path = join(dir, 'config.yml');
  await writeFile(path, text);
  return path;
}

/** Removes ANSI colour codes. */
export function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI codes start with ESC.
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
}
