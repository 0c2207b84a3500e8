/**
 * `preflight`, run on a node before iManager is installed: is each catalog port of
 * the node's roles free to bind, who holds the ones that are not, and (with
 * `--listen`) hold the free ones open so `check` from another node can test the path.
 */
import { entriesForRoles, versionInRange } from '../../catalog/applies.js';
import { applicability, NO_FACTS } from '../../catalog/conditions.js';
import { effectiveCatalog } from '../../catalog/overrides.js';
import type { Role } from '../../catalog/types.js';
import { type ExporterConfig, formatDuration } from '../../config/index.js';
import { type Clock, systemClock } from '../../util/clock.js';
import { EXIT_FAILED, EXIT_OK } from '../exit.js';
import { type CommandIo, wantsColour } from '../io.js';
import { tryBind } from './bind.js';
import type { PreflightCommandOptions } from './command.js';
import { holdPorts } from './hold.js';
import { type FirewallTexts, firewallFindings, readLocalFirewall } from './local-firewall.js';
import { findPortHolders } from './owners.js';
import {
  connectionLine,
  isPreflightOk,
  type PreflightPort,
  type PreflightReport,
  portsToHold,
  renderPreflightHold,
  renderPreflightMarkdown,
  renderPreflightPorts,
  renderPreflightText,
  toPreflightJson,
} from './report.js';

export interface PreflightOptions {
  /** Default /proc. */
  readonly procRoot?: string;
  /** Default readLocalFirewall; tests hand in rules of their own. */
  readonly readFirewall?: () => Promise<FirewallTexts>;
  readonly clock?: Clock;
}

/** Tests every catalog port of the roles; the ports come back in catalog order. */
export async function testPorts(
  config: Pick<ExporterConfig, 'catalog' | 'kubernetesVersion' | 'cluster'>,
  roles: readonly Role[],
  options: PreflightOptions = {},
): Promise<PreflightPort[]> {
  const version = config.kubernetesVersion;
  const facts = config.cluster ?? NO_FACTS;
  const entries = entriesForRoles(effectiveCatalog(config.catalog), roles).filter(
    // A port of another Kubernetes version is not this node's, once the version is known;
    // nor one that must stay closed (10255), nor one whose condition the config rules out.
    (entry) =>
      (version === undefined || versionInRange(version, entry.kubernetes)) &&
      entry.expected !== 'closed' &&
      !applicability(entry, facts).neutral,
  );
  const tested = [];
  for (const entry of entries) {
    // Unknown version: a version-bound port may or may not come, so it cannot fail the run;
    // an unknown condition (is kube-proxy coming?) neither.
    const required =
      applicability(entry, facts).required &&
      (entry.kubernetes === undefined || version !== undefined);
    tested.push({ entry, required, outcome: await tryBind(entry.port) });
  }
  const inUse = tested.filter((t) => t.outcome.status === 'in-use').map((t) => t.entry.port);
  const holders = await findPortHolders(inUse, {
    ...(options.procRoot !== undefined && { procRoot: options.procRoot }),
  });
  return tested.map((t) => {
    const found = holders.get(t.entry.port);
    return found && t.outcome.status === 'in-use' ? { ...t, holders: found } : t;
  });
}

export async function runPreflight(
  command: PreflightCommandOptions,
  io: CommandIo,
  options: PreflightOptions = {},
): Promise<number> {
  const { config, roles, listenMs } = command;
  const ports = await testPorts(config, roles, options);
  const toHold = portsToHold(ports);
  let report: PreflightReport = {
    roles,
    ports,
    nodePortRange: config.nodePortRange,
    running: { asRoot: process.getuid?.() === 0 },
    ...(listenMs !== undefined && { expectFrom: command.expectFrom }),
    firewall: firewallFindings(await (options.readFirewall ?? readLocalFirewall)(), toHold),
  };
  const textOptions = {
    colour: wantsColour(io.stdout, io.env, command.color),
    ...(io.stdout.columns !== undefined && { width: io.stdout.columns }),
  };
  const table = command.output === 'table';
  if (listenMs !== undefined) {
    // The table first: a port in use is news now, not after a ten-minute hold.
    if (table) io.stdout.write(renderPreflightPorts(report, textOptions));
    // Connections stream with the table; beside JSON or Markdown they go to stderr.
    const live = table ? io.stdout : io.stderr;
    const hold = await holdPorts({
      ports: toHold,
      durationMs: listenMs,
      ...(io.stopSignal !== undefined && { signal: io.stopSignal() }),
      clock: options.clock ?? systemClock,
      onListening: (held) => {
        const list = held.length > 0 ? held.join(', ') : 'none';
        io.stderr.write(
          `preflight: holding ${held.length} free ports for ${formatDuration(listenMs)} (Ctrl-C ends it early): ${list}\n` +
            'preflight: run check from another node now; each connection is accepted and closed.\n',
        );
      },
      onConnection: (port, peer) => live.write(connectionLine(report, port, peer)),
    });
    report = { ...report, hold };
  }
  switch (command.output) {
    case 'json':
      io.stdout.write(`${JSON.stringify(toPreflightJson(report), null, 2)}\n`);
      break;
    case 'markdown':
      io.stdout.write(renderPreflightMarkdown(report));
      break;
    case 'table':
      io.stdout.write(
        listenMs === undefined
          ? renderPreflightText(report, textOptions)
          : renderPreflightHold(report, textOptions),
      );
      break;
  }
  return isPreflightOk(report) ? EXIT_OK : EXIT_FAILED;
}
