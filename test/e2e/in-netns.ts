/**
 * The exporter and its listeners run inside a network namespace the test made, so the
 * catalog's fixed ports (2379, 6443, ...) are free there whatever the host runs.
 * /metrics is read from inside the namespace too.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Netns } from '../helpers/netns.js';
import { parseExposition, type Sample } from '../metrics/exposition.js';

/** Starts listeners (`ip:port` each) inside the namespace; resolves once all are bound. */
export async function listenInNetns(
  ns: Netns,
  endpoints: readonly string[],
): Promise<ChildProcess> {
  const child = ns.spawnNode('test/fixtures/listen.ts', [...endpoints], { timeoutMs: 180_000 });
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  assert.match(chunk.toString(), /ready/);
  return child;
}

/** Starts src/main.ts inside the namespace with these flags. */
export function exporterInNetns(ns: Netns, args: readonly string[]): ChildProcess {
  return ns.spawnNode('src/main.ts', [...args], { timeoutMs: 180_000 });
}

/** Stops a child and waits for it to be gone. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = once(child, 'close');
  child.kill('SIGTERM');
  await closed;
}

/** One scrape from inside the namespace; undefined while nothing answers yet. */
export async function scrapeInNetns(ns: Netns, url: string): Promise<Sample[] | undefined> {
  const result = await ns.runNode('test/fixtures/fetch.ts', [url]);
  if (result.code !== 0) return undefined;
  return [...parseExposition(result.stdout.slice(result.stdout.indexOf('\n') + 1)).samples];
}

/** Scrapes every 500 ms until `done` holds or `deadlineMs` passes; returns the last scrape. */
export async function scrapeInNetnsUntil(
  ns: Netns,
  url: string,
  done: (samples: Sample[]) => boolean,
  deadlineMs: number,
): Promise<Sample[]> {
  const started = Date.now();
  let samples: Sample[] = [];
  for (let attempt = 0; attempt < 60 && Date.now() - started < deadlineMs; attempt++) {
    samples = (await scrapeInNetns(ns, url)) ?? samples;
    if (done(samples)) return samples;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return samples;
}
