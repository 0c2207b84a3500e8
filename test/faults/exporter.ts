/**
 * The real program (src/main.ts) in a child process, read through /metrics as
 * Prometheus reads it, for tests that break something around it and check what it
 * keeps serving.
 */
import assert from 'node:assert/strict';
import { type Daemon, startDaemon } from '../e2e/daemon.js';
import { type NodeChildOptions, nodeArgv } from '../helpers/node-child.js';
import { eventually } from '../helpers/wait.js';
import { parseExposition, type Sample } from '../metrics/exposition.js';

export interface RunningExporter {
  readonly daemon: Daemon;
  readonly url: string;
  /** One scrape; fails the test unless /metrics answers 200. */
  scrape(): Promise<Sample[]>;
  /**
   * Scrapes every 200 ms until `done` holds, then returns that scrape. Fails after
   * `deadlineMs`, naming `what` and showing the end of the exporter's log.
   */
  until(done: (samples: Sample[]) => boolean, what: string, deadlineMs: number): Promise<Sample[]>;
  /** The log lines written so far, parsed. */
  logLines(): LogLine[];
  stop(): Promise<void>;
}

export type LogLine = { readonly level: string; readonly msg: string } & Readonly<
  Record<string, unknown>
>;

const LISTENING = /"msg":"listening","url":"([^"]+)"/;

/** Starts src/main.ts with these flags (the listen address is added) and waits until it listens. */
export async function startExporter(
  args: readonly string[],
  options: {
    readonly wrapper?: NodeChildOptions['wrapper'];
    readonly readyTimeoutMs?: number;
  } = {},
): Promise<RunningExporter> {
  const argv = [
    ...(options.wrapper ?? []),
    ...nodeArgv('src/main.ts', ['--web.listen-address=127.0.0.1:0', ...args]),
  ];
  const daemon = await startDaemon(argv, {
    ready: LISTENING,
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
  });
  const url = LISTENING.exec(daemon.log())?.[1];
  assert.ok(url, 'no listening line');
  const scrape = async (): Promise<Sample[]> => {
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(response.status, 200, `/metrics answered ${response.status}`);
    return [...parseExposition(await response.text()).samples];
  };
  return {
    daemon,
    url,
    scrape,
    until(done, what, deadlineMs) {
      return eventually(
        async () => {
          const samples = await scrape();
          return done(samples) ? samples : undefined;
        },
        {
          what,
          timeoutMs: deadlineMs,
          intervalMs: 200,
          // Bounded in count as well as time.
          attempts: 1000,
          // A scrape that fails is the fault under test showing, not a reason to wait on.
          throwsAreFinal: true,
          detail: () =>
            `Last log lines:\n${daemon.log().trimEnd().split('\n').slice(-15).join('\n')}`,
        },
      );
    },
    logLines: () => parseLog(daemon.log()),
    stop: () => daemon.stop(),
  };
}

/** JSON log lines; anything else (there should be nothing else) is kept as an `unparsed` line. */
export function parseLog(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        return { level: 'unparsed', msg: line };
      }
    });
}

// ---- reading samples ----

export const portUps = (samples: readonly Sample[]) =>
  samples.filter((s) => s.name === 'imanager_port_up');

/** `node:port` of every imanager_port_up series, sorted. */
export const targetKeys = (samples: readonly Sample[]) =>
  portUps(samples)
    .map((s) => `${s.labels.node}:${s.labels.port}`)
    .sort();

export function value(
  samples: readonly Sample[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): string | undefined {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

/** Sum of every sample of a family (all label sets). */
export function total(samples: readonly Sample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((sum, s) => sum + Number(s.value), 0);
}
