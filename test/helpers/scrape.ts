/**
 * The per-target families as a scrape gets them: rendered by the collector's renderLent
 * (the server's path), or served by createApp's /metrics over HTTP, then cut from the
 * rest of the body.
 */
import assert from 'node:assert/strict';
import { createMetrics } from '../../src/metrics/collector.js';
import type { ResultStore } from '../../src/results/store.js';
import { createApp, startServer } from '../../src/server/app.js';

const TARGET_FAMILIES: ReadonlySet<string> = new Set([
  'imanager_port_up',
  'imanager_port_state',
  'imanager_port_connect_duration_seconds',
  'imanager_port_last_change_timestamp_seconds',
]);

/** The leading per-target families of a /metrics body, without the blank line after them. */
export function targetFamiliesOf(body: string): string {
  for (const match of body.matchAll(/^# HELP (\S+)/gm)) {
    if (!TARGET_FAMILIES.has(match[1] as string)) return body.slice(0, match.index - 1);
  }
  return body;
}

function metricsOf(store: ResultStore) {
  return createMetrics({ version: 'test', store, processMetrics: false });
}

/** One render through renderLent, as the server renders each scrape. */
export async function renderedTargetFamilies(store: ResultStore): Promise<string> {
  const lent = await metricsOf(store).renderLent();
  try {
    return targetFamiliesOf(lent.body.toString('utf8'));
  } finally {
    lent.release();
  }
}

/** One GET /metrics of createApp on loopback. */
export async function servedTargetFamilies(store: ResultStore): Promise<string> {
  const metrics = metricsOf(store);
  const server = await startServer(createApp({ metrics, readiness: () => true, version: 'test' }), {
    host: '127.0.0.1',
    port: 0,
  });
  try {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    return targetFamiliesOf(await res.text());
  } finally {
    await server.close();
  }
}
