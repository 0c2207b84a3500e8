/**
 * Lowers the calling thread's CPU priority (its nice value), where the kernel lets a
 * thread have its own: Linux, where a thread is a task with a TID of its own.
 *
 * Worker threads that serve scrapes (the render thread) run at a lower priority than
 * the probe threads, so that on a busy machine a storm of scrapes takes the CPU the
 * probes leave, and a connect time measured on a probe thread stays the network's.
 * Raising a nice value needs no privilege.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The nice value of threads that serve scrapes: below the probes, above idle work. */
export const SERVING_NICE = 10;

/** Sets this thread's nice value; false where the platform has no per-thread priority. */
export function lowerThreadPriority(nice: number = SERVING_NICE): boolean {
  try {
    // "PID/task/TID": the kernel's name for this very thread.
    const tid = Number(/\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'))?.[1]);
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
