/**
 * What preflight found, and how it reads: pure functions from bind outcomes, owners
 * and held ports to the JSON document and the text, tested from literals.
 */
import type { CatalogEntry, PortRange, Role } from '../../catalog/types.js';
import { formatDuration } from '../../config/index.js';
import { FIREWALL_FORMATS } from '../firewall-command.js';
import { RUN } from '../program.js';
import { paint, renderMarkdownTable, renderTextTable, type Table, type Tone } from '../table.js';
import type { BindOutcome } from './bind.js';
import type { HoldResult } from './hold.js';
import type { PortHolders, SocketOwner } from './owners.js';

export interface PreflightPort {
  readonly entry: CatalogEntry;
  /** The entry's own flag, or false where the Kubernetes version is unknown and it is version-bound. */
  readonly required: boolean;
  readonly outcome: BindOutcome;
  /** Present when the port is in use and /proc shows its sockets. */
  readonly holders?: PortHolders;
}

export interface PreflightReport {
  readonly roles: readonly Role[];
  readonly ports: readonly PreflightPort[];
  readonly nodePortRange: PortRange;
  readonly running: { readonly asRoot: boolean };
  /** With --listen: what connected while the free ports were held. */
  readonly hold?: HoldResult;
}

export type PortStatus = 'free' | 'in-use' | 'untested';

export function statusOf(port: PreflightPort): PortStatus {
  switch (port.outcome.status) {
    case 'free':
      return 'free';
    case 'in-use':
      return 'in-use';
    default:
      return 'untested';
  }
}

/** No required port is in use, and every port asked to be held was held. */
export function isPreflightOk(report: PreflightReport): boolean {
  const taken = report.ports.some((p) => p.required && statusOf(p) === 'in-use');
  return !taken && (report.hold?.failed.length ?? 0) === 0;
}

/** `etcd (pid 812)`, or why the owner is not known. */
export function ownerText(port: PreflightPort, running: PreflightReport['running']): string {
  const owners = port.holders?.owners ?? [];
  if (owners.length > 0) return owners.map((o) => `${o.command || '?'} (pid ${o.pid})`).join(', ');
  if (port.holders && !port.holders.searchedAll && !running.asRoot) {
    return 'owner unknown (run as root to see it)';
  }
  return 'owner unknown';
}

function untestedReason(outcome: BindOutcome, port: number): string {
  if (outcome.status === 'denied') {
    return port < 1024 ? 'binding ports below 1024 needs root' : 'binding it was denied';
  }
  return outcome.status === 'error' ? `bind failed: ${outcome.error}` : '';
}

/** The ports other nodes must reach here: what the firewall must let in. */
function portsToOpen(report: PreflightReport): string[] {
  const ports = report.ports.filter((p) => !p.entry.localhostOnly).map((p) => String(p.entry.port));
  const { min, max } = report.nodePortRange;
  return [...new Set(ports), min === max ? String(min) : `${min}-${max}`];
}

export interface PreflightJson {
  readonly ok: boolean;
  readonly roles: readonly Role[];
  readonly ports: readonly {
    readonly port: number;
    readonly portName: string;
    readonly component: string;
    readonly scope: string;
    readonly required: boolean;
    readonly status: PortStatus;
    /** Why a port was not tested. */
    readonly reason?: string;
    /** Local addresses where something holds the port. */
    readonly addresses?: readonly string[];
    readonly owners?: readonly SocketOwner[];
    /** False when the owner search could not read every process (not root). */
    readonly ownersComplete?: boolean;
  }[];
  readonly portsToOpen: readonly string[];
  readonly listen?: {
    readonly heldSeconds: number;
    readonly ports: HoldResult['held'];
    readonly failed: HoldResult['failed'];
  };
  readonly summary: { readonly free: number; readonly inUse: number; readonly untested: number };
}

export function toPreflightJson(report: PreflightReport): PreflightJson {
  const count = (status: PortStatus) => report.ports.filter((p) => statusOf(p) === status).length;
  return {
    ok: isPreflightOk(report),
    roles: report.roles,
    ports: report.ports.map((p) => {
      const status = statusOf(p);
      const reason = untestedReason(p.outcome, p.entry.port);
      return {
        port: p.entry.port,
        portName: p.entry.id,
        component: p.entry.component,
        scope: p.entry.scope,
        required: p.required,
        status,
        ...(reason !== '' && { reason }),
        ...(status === 'in-use' && {
          addresses: p.holders?.addresses ?? [],
          owners: p.holders?.owners ?? [],
          ownersComplete: p.holders?.searchedAll === true && (p.holders?.owners.length ?? 0) > 0,
        }),
      };
    }),
    portsToOpen: portsToOpen(report),
    ...(report.hold && {
      listen: {
        heldSeconds: Math.round(report.hold.heldMs) / 1000,
        ports: report.hold.held,
        failed: report.hold.failed,
      },
    }),
    summary: { free: count('free'), inUse: count('in-use'), untested: count('untested') },
  };
}

function statusCell(port: PreflightPort, report: PreflightReport): { text: string; tone: Tone } {
  const status = statusOf(port);
  if (status === 'free') return { text: 'free', tone: 'good' };
  if (status === 'in-use') {
    return {
      text: `IN USE by ${ownerText(port, report.running)}`,
      tone: port.required ? 'bad' : 'warn',
    };
  }
  return { text: `not tested: ${untestedReason(port.outcome, port.entry.port)}`, tone: 'warn' };
}

function portsTable(report: PreflightReport): Table {
  return {
    columns: [
      { header: 'port', align: 'right' },
      { header: 'name' },
      { header: 'component' },
      { header: 'required' },
      { header: 'status' },
    ],
    rows: report.ports.map((p) => [
      String(p.entry.port),
      p.entry.id,
      p.entry.component,
      p.required ? 'yes' : { text: 'no', tone: 'dim' as const },
      statusCell(p, report),
    ]),
  };
}

export interface PreflightTextOptions {
  readonly colour: boolean;
  /** How the program is called, for the command hints. */
  readonly program?: string;
}

/** The table, then what to free, what to open, and (with --listen) who connected. */
export function renderPreflightText(
  report: PreflightReport,
  options: PreflightTextOptions,
): string {
  return renderPreflight(report, options, (table) =>
    renderTextTable(table, { colour: options.colour, indent: '  ' }),
  );
}

export function renderPreflightMarkdown(report: PreflightReport): string {
  return renderPreflight(report, { colour: false }, renderMarkdownTable);
}

/** Enough of a command line to recognise it; JSON carries all of it. */
const CMDLINE_SHOWN = 60;

function clip(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 3)}...`;
}

function renderPreflight(
  report: PreflightReport,
  options: PreflightTextOptions,
  table: (table: Table) => string,
): string {
  const { colour } = options;
  const program = options.program ?? RUN;
  const roles = report.roles.join(',');
  let text = `Preflight for roles ${report.roles.join(', ')}: ${report.ports.length} catalog ports\n\n`;
  text += `${table(portsTable(report))}\n`;

  const taken = report.ports.filter((p) => statusOf(p) === 'in-use');
  if (taken.length > 0) {
    text += `${paint('Free these ports before installing iManager:', 'bad', colour)}\n`;
    for (const p of taken) {
      const owners = p.holders?.owners ?? [];
      const detail = owners.find((o) => o.cmdline !== '')?.cmdline;
      const optional = p.required ? '' : ' (optional)';
      text += `  ${p.entry.port}  ${p.entry.id}${optional}: held by ${ownerText(p, report.running)}`;
      text += detail ? `: ${clip(detail, CMDLINE_SHOWN)}\n` : '\n';
    }
  } else {
    text += `${paint('Every catalog port of these roles is free.', 'good', colour)}\n`;
  }
  const untested = report.ports.filter((p) => statusOf(p) === 'untested');
  if (untested.length > 0) {
    text += `${paint(`Not tested: ${untested.map((p) => p.entry.port).join(', ')}`, 'warn', colour)}`;
    text += report.running.asRoot ? '\n' : ' (run as root to test them)\n';
  }
  text += '\nOpen these TCP ports in the firewall, so that the other nodes reach this one:\n';
  text += `  ${portsToOpen(report).join(', ')}\n`;
  text += `  ${program} firewall --roles=${roles} --format=${FIREWALL_FORMATS.join('|')} prints the commands.\n`;

  const hold = report.hold;
  if (hold) {
    text += `\nHeld ${hold.held.length} free ports for ${formatDuration(Math.max(1, Math.round(hold.heldMs)))}; connections received:\n`;
    for (const held of hold.held) {
      const who =
        held.connections === 0
          ? paint('none', 'warn', colour)
          : `${held.connections} from ${held.peers.join(', ')}`;
      text += `  ${String(held.port).padStart(5)}  ${who}\n`;
    }
    for (const fail of hold.failed) {
      text += `  ${String(fail.port).padStart(5)}  ${paint(`could not hold: ${fail.error}`, 'bad', colour)}\n`;
    }
  } else {
    text += `  To prove the path before installing: ${program} preflight --roles=${roles} --listen=10m here,\n`;
    text += `  then ${program} check from another node.\n`;
  }
  return text;
}
