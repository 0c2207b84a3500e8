/**
 * Alerts an on-call can trust, end to end (issue 12's acceptance): the real exporter, a
 * real Prometheus evaluating the project's rule file (only `for` and `keep_firing_for`
 * shortened), a real Alertmanager with kube-prometheus-stack's default route and inhibit
 * rules plus alerts/alertmanager.yml, on a bed of three loopback nodes inside a network
 * namespace (alerting/bed.ts). What counts is what would page: Alertmanager's active
 * alerts, neither inhibited nor silenced. Each case prints its figure; the README quotes
 * them.
 *
 *   node --import tsx --test test/e2e/alerting.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/wait.js';
import {
  type Alert,
  Bed,
  describeAlert,
  FOR_SECONDS,
  KEEP_SECONDS,
  POLL_MS,
} from './alerting/bed.js';

/** Long enough for any alert of the fault to have fired: every `for`, and room to spare. */
const SETTLE_SECONDS = FOR_SECONDS + 6;

function figure(text: string): void {
  process.stdout.write(`# figure: ${text}\n`);
}

const names = (alerts: readonly Alert[]) => alerts.map(describeAlert).sort();

/**
 * Waits until `ready` holds (the fault's alert pages), then watches the pages for
 * SETTLE_SECONDS and returns the most seen at once, and all that were seen.
 */
async function settledPages(
  bed: Bed,
  what: string,
  ready: (pages: Alert[]) => boolean,
): Promise<{ most: number; seen: string[]; firing: string[] }> {
  await eventually(async () => (ready(await bed.pages()) ? true : undefined), {
    what,
    timeoutMs: 90_000,
    intervalMs: POLL_MS,
  });
  const seen = new Set<string>();
  let most = 0;
  const end = Date.now() + SETTLE_SECONDS * 1000;
  while (Date.now() < end) {
    const pages = await bed.pages();
    for (const p of pages) seen.add(describeAlert(p));
    most = Math.max(most, pages.length);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const firing = (await bed.prometheusAlerts()).filter((a) => a.state === 'firing');
  return { most, seen: [...seen].sort(), firing: names(firing) };
}

/** Until the exporters are scraped and Prometheus and Alertmanager hold no alert at all. */
async function quiet(bed: Bed, seconds: number): Promise<void> {
  let last = '';
  try {
    await eventually(
      async () => {
        const up = await bed.query('up{job="imanager-port-exporter"} == 1');
        const alerts = await bed.prometheusAlerts();
        const held = await bed.alertmanagerAlerts();
        last = `${up.length} of ${bed.exporters.length} exporters up; in Prometheus: ${
          alerts.map(describeAlert).join(', ') || 'none'
        }; in Alertmanager: ${held.map(describeAlert).join(', ') || 'none'}`;
        return up.length === bed.exporters.length && alerts.length === 0 && held.length === 0
          ? true
          : undefined;
      },
      {
        what: 'every exporter scraped, no alert anywhere',
        timeoutMs: seconds * 1000,
        intervalMs: POLL_MS,
      },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: ${last}`, { cause: error });
  }
}

const isNodeDown = (node: string) => (a: Alert) =>
  a.labels.alertname === 'ImanagerNodeUnreachable' && a.labels.node === node;

describe('alerting end to end, central mode', () => {
  // kubelet on worker-1 and the iManager UI on master-1 get listeners of their own, to close.
  const kubelet = '127.0.1.2:10250';
  const imanagerUi = '127.0.1.1:31100';
  const bed = new Bed('central', [kubelet, imanagerUi]);

  before(async () => {
    await bed.start();
    await quiet(bed, 60);
  });
  after(() => bed.stop());

  it('(a) one node of three dark, ICMP off: at least 1 and at most 2 pages', async () => {
    await bed.darken('worker-2');
    const { most, seen, firing } = await settledPages(bed, 'worker-2 paged as down', (p) =>
      p.some(isNodeDown('worker-2')),
    );
    figure(`one node of three dark (central, ICMP off): ${most} page(s): ${seen.join(', ')}`);
    figure(
      `  firing in Prometheus, before any inhibit rule: ${firing.length}: ${firing.join(', ')}`,
    );
    assert.ok(most >= 1 && most <= 2, `${most} pages: ${seen.join(', ')}`);
    assert.deepEqual(seen, ['ImanagerNodeUnreachable{node=worker-2}']);
    // The rules alone make it one: nothing fires that an inhibit rule had to hold back.
    assert.deepEqual(firing, seen, 'firing in Prometheus');
  });

  it('(d) the exporter restarted within a minute mid-outage: no alert leaves firing', async () => {
    const [exporter] = bed.exporters;
    assert.ok(exporter);
    const firingBefore = names((await bed.prometheusAlerts()).filter((a) => a.state === 'firing'));
    assert.ok(firingBefore.includes('ImanagerNodeUnreachable{node=worker-2}'), firingBefore.join());
    await bed.killExporter(exporter);
    // Once it is gone: a scrape that began before could still have succeeded.
    const killedAt = Date.now();
    bed.restartExporter(exporter);
    const left = new Set<string>();
    const everFiring = new Set<string>();
    let backAfter: number | undefined;
    // Through the gap, then for keep_firing_for and more once the new exporter is scraped:
    // an alert its first passes did not continue would have resolved by then.
    const watch = (KEEP_SECONDS + 4) * 1000;
    while (backAfter === undefined || Date.now() < killedAt + backAfter * 1000 + watch) {
      if (Date.now() - killedAt > 60_000)
        assert.fail('the exporter did not come back within a minute');
      const firing = names((await bed.prometheusAlerts()).filter((a) => a.state === 'firing'));
      const paged = names(await bed.pages());
      for (const name of firing) everFiring.add(name);
      for (const name of firingBefore) {
        if (!firing.includes(name) || !paged.includes(name)) left.add(name);
      }
      if (backAfter === undefined) {
        // A good scrape after the kill can only be the new process's.
        // timestamp() of the selector itself: of an expression it would be the query's time.
        const good = await bed.query(
          'timestamp(up{job="imanager-port-exporter"}) and up{job="imanager-port-exporter"} == 1',
        );
        const at = Number(good[0]?.value[1] ?? 0) * 1000;
        if (at > killedAt) backAfter = (at - killedAt) / 1000;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const newlyFiring = [...everFiring].filter((n) => !firingBefore.includes(n));
    figure(
      `exporter restarted mid-outage, scraped again ${backAfter?.toFixed(1)} s after the kill: ` +
        `${left.size} alert(s) left firing, ${newlyFiring.length} new`,
    );
    assert.deepEqual([...left], [], 'an alert left firing');
    assert.deepEqual(newlyFiring, [], 'a restart raised an alert');
  });

  it('(c) the exporter killed mid-outage: no outage alert resolves before ImanagerExporterDown fires', async () => {
    const [exporter] = bed.exporters;
    assert.ok(exporter);
    const outage = names((await bed.prometheusAlerts()).filter((a) => a.state === 'firing'));
    assert.ok(outage.length > 0);
    const killedAt = Date.now();
    await bed.killExporter(exporter);
    const resolvedEarly = new Set<string>();
    const firedAfter = await eventually(
      async () => {
        const firing = names((await bed.prometheusAlerts()).filter((a) => a.state === 'firing'));
        const exporterDown = (await bed.pages()).some(
          (a) => a.labels.alertname === 'ImanagerExporterDown',
        );
        if (exporterDown) return (Date.now() - killedAt) / 1000;
        for (const name of outage) if (!firing.includes(name)) resolvedEarly.add(name);
        return undefined;
      },
      { what: 'ImanagerExporterDown paging', timeoutMs: 60_000, intervalMs: POLL_MS },
    );
    const pages = names(await bed.pages());
    figure(
      `exporter killed mid-outage: ImanagerExporterDown paged ${firedAfter.toFixed(1)} s after the kill ` +
        `(for ${FOR_SECONDS} s); outage alerts resolved before it: ${resolvedEarly.size}; paging now: ${pages.join(', ')}`,
    );
    assert.deepEqual([...resolvedEarly], []);
    for (const name of outage) assert.ok(pages.includes(name), `${name} no longer pages`);

    bed.restartExporter(exporter);
    await bed.restore('worker-2');
    await quiet(bed, 90);
  });

  it('(e) one closed required port, one closed 31100, one closed 9101: one page each', async () => {
    await bed.close(kubelet);
    await bed.close(imanagerUi);
    await bed.stopNodeExporter('worker-2');
    const faults = {
      'kubelet (10250) on worker-1': (a: Alert) => a.labels.node === 'worker-1',
      'iManager UI (31100) on master-1': (a: Alert) => a.labels.node === 'master-1',
      'node exporter (9101) on worker-2': (a: Alert) => a.labels.node === 'worker-2',
    };
    const { most, seen } = await settledPages(bed, 'each fault paged', (pages) =>
      Object.values(faults).every((match) => pages.some(match)),
    );
    const pages = await bed.pages();
    for (const [fault, match] of Object.entries(faults)) {
      const mine = names(pages.filter(match));
      figure(`${fault} closed: ${mine.length} page(s): ${mine.join(', ')}`);
      assert.equal(mine.length, 1, `${fault}: ${mine.join(', ')}`);
    }
    assert.equal(most, 3, `pages seen: ${seen.join(', ')}`);
    assert.deepEqual(names(pages), [
      'ImanagerExternalPortUnreachable{node=master-1,port=31100}',
      'ImanagerNodeExporterDown{node=worker-2}',
      'ImanagerRequiredPortClosed{node=worker-1,port=10250}',
    ]);
  });
});

describe('alerting end to end, DaemonSet mode', () => {
  const bed = new Bed('daemonset');

  before(async () => {
    await bed.start();
    await quiet(bed, 60);
  });
  after(() => bed.stop());

  it('(b) one node of three dark with its agent: at least 1 and at most 2 pages', async () => {
    await bed.darken('worker-2');
    const { most, seen, firing } = await settledPages(bed, 'worker-2 paged as down', (p) =>
      p.some(isNodeDown('worker-2')),
    );
    const held = names(
      (await bed.alertmanagerAlerts()).filter((a) => (a.status?.inhibitedBy.length ?? 0) > 0),
    );
    figure(
      `one node of three dark (DaemonSet, 3 agents, its own cut off): ${most} page(s): ${seen.join(', ')}`,
    );
    figure(
      `  firing in Prometheus: ${firing.length}: ${firing.join(', ')}; inhibited: ${held.length}`,
    );
    assert.ok(most >= 1 && most <= 2, `${most} pages: ${seen.join(', ')}`);
    assert.ok(seen.includes('ImanagerNodeUnreachable{node=worker-2}'), seen.join(', '));
    assert.ok(firing.length <= 2, `firing in Prometheus: ${firing.join(', ')}`);
    assert.ok(
      !seen.some((s) => s.startsWith('ImanagerExporterDown')),
      `the dead node's agent paged on its own: ${seen.join(', ')}`,
    );
  });
});
