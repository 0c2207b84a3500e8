/**
 * What every benchmark's JSON says about where it ran: other work on the machine
 * moves the figures, so the load average at the start is part of every result.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release } from 'node:os';
import { cpuModel } from './proc.js';
import { round } from './stats.js';

export const BLACKBOX = '/usr/bin/prometheus-blackbox-exporter';

/** The first line of a program's version output, or why it could not be had. */
export function version(argv: readonly string[]): string {
  try {
    const [command, ...args] = argv;
    const text = execFileSync(command as string, args, { encoding: 'utf8', timeout: 10_000 });
    return text.split('\n')[0]?.trim() ?? '';
  } catch (error) {
    return `unknown (${(error as Error).message.split('\n')[0]})`;
  }
}

export interface MachineFactsOptions {
  /** Add the versions of the programs benchmark 1 compares against. */
  readonly contenders?: boolean;
}

export function machineFacts(options: MachineFactsOptions = {}) {
  let cpu: string | undefined;
  try {
    cpu = cpuModel(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    cpu = undefined;
  }
  return {
    nproc: availableParallelism(),
    cpuModel: cpu ?? 'unknown',
    kernel: release(),
    node: process.version,
    ...(options.contenders && {
      nmap: version(['nmap', '--version']),
      blackbox: version([BLACKBOX, '--version']),
    }),
    loadAverage1mAtStart: round(loadavg()[0] ?? 0, 2),
  };
}
