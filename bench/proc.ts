/**
 * Readings of what the kernel accounts for a process: pure parsers of /proc text and
 * of GNU time's output, tested from string literals, apart from the reads.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat: USER_HZ, 100 on every Linux ABI Node runs on. */
const USER_HZ = 100;

/** utime+stime in seconds, from the text of /proc/PID/stat. */
export function cpuSecondsOfStat(statText: string): number {
  // The command name (field 2) may hold spaces and parentheses: fields are counted
  // after its last ')'. There, state (field 3) is index 0, so utime (14) is 11, stime (15) 12.
  const fields = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!(Number.isFinite(utime) && Number.isFinite(stime))) {
    throw new Error(`cannot read utime/stime from ${JSON.stringify(statText.slice(0, 120))}`);
  }
  return (utime + stime) / USER_HZ;
}

/** utime+stime of a live process, in seconds (10 ms resolution). */
export function processCpuSeconds(pid: number): number {
  return cpuSecondsOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** The format GNU time is given: elapsed, user and system seconds. */
export const TIME_FORMAT = '%e %U %S';

export interface TimeReading {
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
}

/**
 * Parses what `/usr/bin/time -f '%e %U %S' -o FILE` wrote. GNU time takes the figures
 * from wait4()'s rusage, so they cover the command and every child it waited for.
 * A line "Command exited with non-zero status N" may come first.
 */
export function parseTimeOutput(text: string): TimeReading {
  const lines = text.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  const [elapsed, user, system] = last.trim().split(/\s+/).map(Number);
  if (
    elapsed === undefined ||
    user === undefined ||
    system === undefined ||
    ![elapsed, user, system].every(Number.isFinite)
  ) {
    throw new Error(`cannot read GNU time output: ${JSON.stringify(text.slice(0, 200))}`);
  }
  return { wallSeconds: elapsed, cpuSeconds: user + system };
}

/** The soft limit on open files of this process, from /proc/self/limits. */
export function openFilesLimit(limitsText: string): number | undefined {
  const match = /^Max open files\s+(\S+)/m.exec(limitsText);
  if (!match) return undefined;
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/** The first "model name" of /proc/cpuinfo. */
export function cpuModel(cpuinfoText: string): string | undefined {
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfoText)?.[1]?.trim();
}

export interface MemoryReading {
  /** VmRSS: resident now. */
  readonly rssBytes: number;
  /** VmHWM: the most resident at any time so far. */
  readonly peakRssBytes: number;
}

/** VmRSS and VmHWM from the text of /proc/PID/status (kB there). */
export function memoryOfStatus(statusText: string): MemoryReading {
  const kB = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(statusText);
    if (!match) throw new Error(`no ${field} in /proc/PID/status`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kB('VmRSS'), peakRssBytes: kB('VmHWM') };
}

/** VmRSS and VmHWM of a live process. */
export function processMemory(pid: number): MemoryReading {
  return memoryOfStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}
