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
import { type HoldResult, UNKNOWN_PEER } from './hold.js';
import type { FirewallFinding } from './local-firewall.js';
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
  /** `--expect-from`: the peers whose checks should reach every held port. */
  readonly expectFrom?: readonly string[];
  /** What the local firewall would drop of the ports held (or to be held). */
  readonly firewall?: readonly FirewallFinding[];
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

/** The ports --listen holds: the free ones a peer can reach (not those bound to localhost). */
export function portsToHold(ports: readonly PreflightPort[]): number[] {
  const held = ports.filter((p) => statusOf(p) === 'free' && !p.entry.localhostOnly);
  return [...new Set(held.map((p) => p.entry.port))];
}

export interface HoldVerdict {
  /** Peer -> the ports it reached, in the order peers first came. */
  readonly receivedFrom: readonly { readonly peer: string; readonly ports: readonly number[] }[];
  /** Required held ports no connection reached. */
  readonly neverReached: readonly PreflightPort[];
  /** Expected peers that reached no port. */
  readonly silentPeers: readonly string[];
}

export function holdVerdict(report: PreflightReport): HoldVerdict | undefined {
  const hold = report.hold;
  if (!hold) return undefined;
  const byPeer = new Map<string, number[]>();
  for (const held of hold.held) {
    for (const peer of held.peers) byPeer.set(peer, [...(byPeer.get(peer) ?? []), held.port]);
  }
  const reached = new Set(hold.held.filter((h) => h.connections > 0).map((h) => h.port));
  const heldPorts = new Set(hold.held.map((h) => h.port));
  const neverReached = report.ports.filter(
    (p) => p.required && heldPorts.has(p.entry.port) && !reached.has(p.entry.port),
  );
  return {
    receivedFrom: [...byPeer].map(([peer, ports]) => ({ peer, ports })),
    neverReached: [...new Map(neverReached.map((p) => [p.entry.port, p])).values()],
    silentPeers: (report.expectFrom ?? []).filter((peer) => !byPeer.has(peer)),
  };
}

/**
 * No required port is in use, every port asked to be held was held, and, when peers
 * were named, every required held port received a connection.
 */
export function isPreflightOk(report: PreflightReport): boolean {
  const taken = report.ports.some((p) => p.required && statusOf(p) === 'in-use');
  const verdict = holdVerdict(report);
  const unreached = (report.expectFrom?.length ?? 0) > 0 && (verdict?.neverReached.length ?? 0) > 0;
  return !taken && !unreached && (report.hold?.failed.length ?? 0) === 0;
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
    readonly expectFrom: readonly string[];
    readonly receivedFrom: HoldVerdict['receivedFrom'];
    /** Required held ports that no connection reached. */
    readonly neverReached: readonly number[];
  };
  readonly firewall: readonly FirewallFinding[];
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
        expectFrom: report.expectFrom ?? [],
        receivedFrom: holdVerdict(report)?.receivedFrom ?? [],
        neverReached: (holdVerdict(report)?.neverReached ?? []).map((p) => p.entry.port),
      },
    }),
    firewall: report.firewall ?? [],
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
    columns: [{ header: 'port', align: 'right' }, 'name', 'component', 'required', 'status'],
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
  /** The terminal's width: the table's last column wraps to fit it. */
  readonly width?: number;
  /** How the program is called, for the command hints. */
  readonly program?: string;
}

/** The table, then what to free, what to open, and (with --listen) who connected. */
export function renderPreflightText(
  report: PreflightReport,
  options: PreflightTextOptions,
): string {
  return renderPreflight(report, options, textTable(options));
}

export function renderPreflightMarkdown(report: PreflightReport): string {
  return renderPreflight(report, { colour: false }, renderMarkdownTable);
}

function textTable(options: PreflightTextOptions): (table: Table) => string {
  return (table) =>
    renderTextTable(table, {
      colour: options.colour,
      indent: '  ',
      ...(options.width !== undefined && { width: options.width }),
    });
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
  return renderPortsPart(report, options, table) + renderHoldPart(report, options);
}

/** The table, what to free, what to open, the local firewall: all that is known before a hold. */
export function renderPreflightPorts(
  report: PreflightReport,
  options: PreflightTextOptions,
): string {
  return renderPortsPart(report, options, textTable(options));
}

function renderPortsPart(
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
  for (const finding of report.firewall ?? []) {
    const tone = finding.ports.length > 0 ? 'bad' : 'good';
    text += `${paint(`Local firewall: ${finding.tool} ${finding.finding}.`, tone, colour)}\n`;
  }
  text += '\nOpen these ports in the firewall, so that the other nodes reach this one:\n';
  text += `  ${portsToOpen(report).join(', ')}\n`;
  text += `  ${program} firewall --roles=${roles} --format=${FIREWALL_FORMATS.join('|')} prints the commands.\n`;
  // Before a hold (--listen, expectFrom set) the hint would name what is happening now.
  if (!report.hold && report.expectFrom === undefined) {
    text += `  To prove the path before installing: ${program} preflight --roles=${roles} --listen=10m --expect-from=PEER here,\n`;
    text += `  then ${program} check from the peer.\n`;
  }
  return text;
}

/** The part after a hold whose table was printed before it. */
export function renderPreflightHold(
  report: PreflightReport,
  options: PreflightTextOptions,
): string {
  return renderHoldPart(report, options);
}

/** One connection as it arrives: `  connection from 198.18.0.2 to 6443 (kube-apiserver)`. */
export function connectionLine(
  report: Pick<PreflightReport, 'ports'>,
  port: number,
  peer: string,
): string {
  const entry = report.ports.find((p) => p.entry.port === port)?.entry;
  return `  connection from ${peerText(peer)} to ${port}${entry ? ` (${entry.id})` : ''}\n`;
}

/** After the hold: who reached which port, and the verdict. */
function renderHoldPart(report: PreflightReport, options: PreflightTextOptions): string {
  const { colour } = options;
  const hold = report.hold;
  const verdict = holdVerdict(report);
  if (!hold || !verdict) return '';
  let text = `\nHeld ${hold.held.length} free ports for ${formatDuration(Math.max(1, Math.round(hold.heldMs)))}; connections received:\n`;
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
  const local = report.ports.filter((p) => p.entry.localhostOnly && statusOf(p) === 'free');
  if (local.length > 0) {
    text += `  Not held: ${local.map((p) => p.entry.port).join(', ')}: bound to localhost on the node, no other node reaches them.\n`;
  }
  const received =
    verdict.receivedFrom.length === 0
      ? 'received from nobody'
      : `received from ${verdict.receivedFrom.map((r) => `${peerText(r.peer)}: ${r.ports.join(', ')}`).join('; ')}`;
  const never =
    verdict.neverReached.length === 0
      ? 'every required port was reached'
      : `never reached: ${verdict.neverReached.map((p) => `${p.entry.port} ${p.entry.id}`).join(', ')}`;
  const expected = (report.expectFrom?.length ?? 0) > 0;
  const failing = expected && verdict.neverReached.length > 0;
  text += `${paint(`${capitalise(received)}; ${never}.`, failing ? 'bad' : expected ? 'good' : 'plain', colour)}\n`;
  if (verdict.silentPeers.length > 0) {
    text += `${paint(`No connection at all from ${verdict.silentPeers.join(', ')}: did check run there, against this node?`, 'bad', colour)}\n`;
  }
  if (failing) {
    text +=
      '  A port no peer reached is blocked between the nodes, or check did not probe it: see the firewall lines above.\n';
  } else if (!expected) {
    text += '  With --expect-from=PEERS, a required port no peer reached fails the run.\n';
  }
  return text;
}

/**
 * A peer that resets at once (check closes an open probe with a reset) is gone before
 * its address can be read: the connection still proves the path.
 */
function peerText(peer: string): string {
  return peer === UNKNOWN_PEER ? 'peers that reset before their address was read' : peer;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
