/**
 * `firewall`: scripts that open exactly the ports a node of some roles needs (its
 * catalog ports, TCP, UDP and IP protocols, and the NodePort range), one comment per
 * port, for firewalld, iptables, nftables or ufw. Each script can run twice and leave
 * each rule once: nftables gets a table of its own, flushed and rebuilt; iptables and
 * firewalld check before they add; ufw skips a rule it has. The plan is data; each
 * format only renders it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { entriesForRoles, unprobedRequirements, versionInRange } from '../catalog/applies.js';
import {
  applicability,
  type ClusterFacts,
  describeCondition,
  NO_FACTS,
} from '../catalog/conditions.js';
import type { CatalogSettings } from '../catalog/overrides.js';
import { effectiveCatalog } from '../catalog/overrides.js';
import { UNPROBED_CATALOG } from '../catalog/ports.js';
import type { PortRange, Role, Scope } from '../catalog/types.js';
import { ConfigError } from '../config/index.js';
import { IP_FAMILIES, type IpFamily } from '../kinds/cluster.js';
import { systemClock } from '../util/clock.js';
import { EXIT_FAILED, EXIT_OK } from './exit.js';
import type { FirewallCommandOptions, FirewallFormat } from './firewall-command.js';
import type { CommandIo } from './io.js';
import { commandLogger } from './logger.js';
import { RUN } from './program.js';

export type Family = IpFamily;

/** What a rule matches: ports of TCP or UDP, or a bare IP protocol (IP-in-IP). */
export type Match =
  | { readonly protocol: 'tcp' | 'udp'; readonly ports: PortRange }
  | { readonly protocol: 'ip'; readonly number: number; readonly name: string };

/** One port, range or protocol to open. */
export interface FirewallRule {
  readonly match: Match;
  /** What breaks when it is closed: `id: purpose`, one line. */
  readonly comment: string;
  readonly scope: Scope;
  /** The networks it is opened to; empty is everyone. Only internal ports get them. */
  readonly sources: readonly string[];
}

/** A catalog entry left out, and why, so the output says so. */
export type SkippedPort = Readonly<{ port: string; id: string; reason: string }>;

export interface FirewallPlan {
  readonly roles: readonly Role[];
  /** `--source`: the internal ports' networks, both families. */
  readonly sources: readonly string[];
  readonly kubernetesVersion?: string;
  readonly rules: readonly FirewallRule[];
  readonly skipped: readonly SkippedPort[];
}

export interface FirewallPlanOptions {
  readonly roles: readonly Role[];
  /** `--source`: internal ports are opened only to these networks. */
  readonly sources?: readonly string[];
  /** `--kubernetes-version`, else the config's; unknown: version-bound ports stay shut. */
  readonly kubernetesVersion?: string;
  /** Open version-bound ports when the version is unknown. Default false. */
  readonly includeUnknownVersion?: boolean;
}

export interface FirewallConfig {
  readonly catalog: CatalogSettings;
  readonly nodePortRange: PortRange;
  readonly kubernetesVersion?: string;
  readonly cluster?: ClusterFacts;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * The ports to open. Ports bound to the node's loopback are left out (opening them
 * changes nothing); so are ports of other Kubernetes versions, and version-bound ports
 * while the version is unknown (10251/10252 are gone since 1.19: opening them by
 * default opens a legacy insecure port where something may still listen).
 */
export function firewallPlan(config: FirewallConfig, options: FirewallPlanOptions): FirewallPlan {
  const rules: FirewallRule[] = [];
  const skipped: SkippedPort[] = [];
  const sources = options.sources ?? [];
  const version = options.kubernetesVersion ?? config.kubernetesVersion;
  const facts = config.cluster ?? NO_FACTS;
  const sourcesOf = (scope: Scope) => (scope === 'internal' ? sources : []);
  for (const entry of entriesForRoles(effectiveCatalog(config.catalog), options.roles)) {
    const port = String(entry.port);
    const skip = (reason: string) => skipped.push({ port, id: entry.id, reason });
    if (entry.localhostOnly) {
      skip('bound to localhost on the node');
      continue;
    }
    if (entry.kubernetes !== undefined) {
      if (version === undefined && !options.includeUnknownVersion) {
        skip('only some Kubernetes versions have it; give --kubernetes-version');
        continue;
      }
      if (version !== undefined && !versionInRange(version, entry.kubernetes)) {
        skip(`not in Kubernetes ${version}`);
        continue;
      }
    }
    // The kubelet's read-only port must not answer: opening it would make the exposure.
    if (entry.expected === 'closed') {
      skip('must stay closed');
      continue;
    }
    // The config's cluster: section says the condition fails (179 with Calico VXLAN).
    if (entry.condition && applicability(entry, facts).neutral) {
      skip(`needed only when ${describeCondition(entry.condition)}`);
      continue;
    }
    rules.push({
      match: { protocol: 'tcp', ports: { min: entry.port, max: entry.port } },
      comment: `${entry.id}: ${oneLine(entry.purpose) || entry.component}`,
      scope: entry.scope,
      sources: sourcesOf(entry.scope),
    });
  }
  for (const { entry, applicability: applies } of unprobedRequirements(
    UNPROBED_CATALOG,
    options.roles,
    facts,
  )) {
    const where = entry.protocol === 'ip' ? `ip protocol ${entry.ipProtocol}` : `${entry.port}/udp`;
    if (applies.neutral) {
      const why = entry.condition ? `needed only when ${describeCondition(entry.condition)}` : '';
      skipped.push({ port: where, id: entry.id, reason: why });
      continue;
    }
    const unknown =
      applies.state === 'unknown' && entry.condition
        ? ` (only if ${describeCondition(entry.condition)})`
        : '';
    rules.push({
      match:
        entry.protocol === 'ip'
          ? { protocol: 'ip', number: entry.ipProtocol, name: entry.ipProtocolName }
          : { protocol: 'udp', ports: { min: entry.port, max: entry.port } },
      comment: `${entry.id}: ${oneLine(entry.purpose)}${unknown}`,
      scope: entry.scope,
      sources: sourcesOf(entry.scope),
    });
  }
  rules.push({
    match: { protocol: 'tcp', ports: config.nodePortRange },
    comment: "nodeports: NodePort range; iManager's basic services and GIS environments",
    scope: 'external',
    sources: [],
  });
  return {
    roles: options.roles,
    sources,
    ...(version !== undefined && { kubernetesVersion: version }),
    rules,
    skipped,
  };
}

/** Single-quoted for a POSIX shell: safe whatever the text holds. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function portText(range: PortRange, separator: string): string {
  return range.min === range.max ? String(range.min) : `${range.min}${separator}${range.max}`;
}

function matchText(match: Match): string {
  return match.protocol === 'ip'
    ? `IP protocol ${match.number} (${match.name})`
    : `${portText(match.ports, '-')}/${match.protocol}`;
}

function familyOf(source: string): Family {
  return isIP(source.slice(0, source.indexOf('/'))) === 6 ? 'ipv6' : 'ipv4';
}

/** The networks of a family a rule opens to: [] for everyone, undefined for nobody of it. */
function sourcesIn(rule: FirewallRule, family: Family): readonly string[] | undefined {
  if (rule.sources.length === 0) return [];
  const mine = rule.sources.filter((source) => familyOf(source) === family);
  return mine.length === 0 ? undefined : mine;
}

const SHEBANG: Readonly<Record<FirewallFormat, string>> = {
  nftables: '#!/usr/sbin/nft -f',
  iptables: '#!/bin/sh',
  firewalld: '#!/bin/sh',
  ufw: '#!/bin/sh',
};

function header(plan: FirewallPlan, format: FirewallFormat, command: string): string[] {
  const source = plan.sources.length === 0 ? '' : ` --source=${plan.sources.join(',')}`;
  const version =
    plan.kubernetesVersion === undefined ? '' : ` --kubernetes-version=${plan.kubernetesVersion}`;
  const lines = [
    SHEBANG[format],
    ...(format === 'nftables' ? [] : ['set -e']),
    `# ${format}: open the ports a SuperMap iManager node with roles ${plan.roles.join(', ')} needs.`,
    `# Generated by: ${command} --roles=${plan.roles.join(',')} --format=${format}${source}${version}`,
    '# Safe to run again: each rule is there once afterwards.',
    `# Opens: ${plan.rules.map((rule) => matchText(rule.match)).join(', ')}.`,
  ];
  if (plan.sources.length > 0) {
    lines.push(
      `# Internal ports are opened only to ${plan.sources.join(', ')} (each in its family); external ones to all.`,
    );
  }
  for (const skip of plan.skipped) {
    lines.push(`# Not opened: ${skip.port} (${skip.id}): ${skip.reason}.`);
  }
  return lines;
}

function firewalldRichRule(family: Family, source: string | undefined, match: Match): string {
  const from = source === undefined ? '' : ` source address="${source}"`;
  const what =
    match.protocol === 'ip'
      ? `protocol value="${match.name}"`
      : `port port="${portText(match.ports, '-')}" protocol="${match.protocol}"`;
  return `rule family="${family}"${from} ${what} accept`;
}

function firewalld(plan: FirewallPlan, command: string): string[] {
  const lines = header(plan, 'firewalld', command);
  const ensure = (kind: string, value: string, comment: string) =>
    `firewall-cmd --permanent --query-${kind}=${value} >/dev/null || firewall-cmd --permanent --add-${kind}=${value}  # ${comment}`;
  for (const rule of plan.rules) {
    const { match } = rule;
    if (rule.sources.length === 0) {
      if (match.protocol === 'ip') lines.push(ensure('protocol', match.name, rule.comment));
      else
        lines.push(ensure('port', `${portText(match.ports, '-')}/${match.protocol}`, rule.comment));
      continue;
    }
    for (const source of rule.sources) {
      const rich = shellQuote(firewalldRichRule(familyOf(source), source, match));
      lines.push(ensure('rich-rule', rich, rule.comment));
    }
  }
  lines.push('firewall-cmd --reload');
  return lines;
}

function iptablesMatch(match: Match): string {
  return match.protocol === 'ip'
    ? `-p ${match.number}`
    : `-p ${match.protocol} --dport ${portText(match.ports, ':')}`;
}

function iptables(plan: FirewallPlan, command: string): string[] {
  const lines = header(plan, 'iptables', command);
  lines.push(
    '# Inserted at the top of INPUT, ahead of any final REJECT rule, each only when missing (-C).',
    '# IPv4 rules go to iptables, IPv6 rules to ip6tables. To keep them across reboots:',
    '# iptables-save > /etc/iptables/rules.v4; ip6tables-save > /etc/iptables/rules.v6',
  );
  for (const [family, program] of [
    ['ipv4', 'iptables'],
    ['ipv6', 'ip6tables'],
  ] as const) {
    for (const rule of plan.rules) {
      const sources = sourcesIn(rule, family);
      if (sources === undefined) continue;
      // iptables keeps comments of at most 256 characters.
      const comment = shellQuote(rule.comment.slice(0, 256));
      for (const source of sources.length === 0 ? [undefined] : sources) {
        const from = source === undefined ? '' : ` -s ${source}`;
        const spec = `INPUT${from} ${iptablesMatch(rule.match)} -m comment --comment ${comment} -j ACCEPT`;
        lines.push(`${program} -C ${spec} 2>/dev/null || ${program} -I ${spec}`);
      }
    }
  }
  return lines;
}

function ufw(plan: FirewallPlan, command: string): string[] {
  const lines = header(plan, 'ufw', command);
  lines.push('# ufw skips a rule it already has.');
  for (const rule of plan.rules) {
    const { match } = rule;
    // ufw's proto knows tcp, udp, ah, esp, gre, ipv6 and igmp, not IP-in-IP: say so.
    if (match.protocol === 'ip') {
      lines.push(`# Not opened: ufw has no rule for ${matchText(match)}: ${rule.comment}`);
      continue;
    }
    const proto = match.protocol;
    const port = portText(match.ports, ':');
    const comment = `comment ${shellQuote(rule.comment)}`;
    if (rule.sources.length === 0) {
      lines.push(`ufw allow ${port}/${proto} ${comment}`);
      continue;
    }
    for (const source of rule.sources) {
      lines.push(`ufw allow from ${source} to any port ${port} proto ${proto} ${comment}`);
    }
  }
  return lines;
}

/** nft keeps comments of at most 128 bytes, and a double quote would end one. */
function nftComment(text: string): string {
  const comment = text.replaceAll('"', "'");
  if (Buffer.byteLength(comment) <= 127) return comment;
  let cut = comment;
  while (Buffer.byteLength(`${cut}...`) > 127) cut = cut.slice(0, -1);
  return `${cut.trimEnd()}...`;
}

/** The table this program owns: flushed and rebuilt by every run of the script. */
export const NFT_TABLE = 'imanager_port_exporter';

function nftMatch(match: Match): string {
  return match.protocol === 'ip'
    ? `meta l4proto ${match.number}`
    : `${match.protocol} dport ${portText(match.ports, '-')}`;
}

function nftables(plan: FirewallPlan, command: string): string[] {
  const lines = header(plan, 'nftables', command);
  lines.push(
    `# Its own table, inet ${NFT_TABLE}: declared, flushed and filled again, so a second run`,
    '# leaves each rule once and your own tables untouched. nftables runs every base chain of',
    '# a hook: an accept here cannot undo a drop in another table, so where your own input chain',
    '# drops by policy, accept these ports there too (or use this table as that chain).',
    `table inet ${NFT_TABLE}`,
    `flush table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    '\tchain input {',
    '\t\ttype filter hook input priority filter - 1; policy accept;',
  );
  for (const rule of plan.rules) {
    const comment = `comment "${nftComment(rule.comment)}"`;
    for (const family of IP_FAMILIES) {
      const sources = sourcesIn(rule, family);
      if (sources === undefined) continue;
      if (sources.length === 0) {
        // Everyone, both families: one rule.
        if (family === 'ipv4') lines.push(`\t\t${nftMatch(rule.match)} accept ${comment}`);
        continue;
      }
      const set = sources.length === 1 ? sources[0] : `{ ${sources.join(', ')} }`;
      const saddr = family === 'ipv6' ? 'ip6 saddr' : 'ip saddr';
      lines.push(`\t\t${saddr} ${set} ${nftMatch(rule.match)} accept ${comment}`);
    }
  }
  lines.push('\t}', '}');
  return lines;
}

const RENDERERS: Readonly<
  Record<FirewallFormat, (plan: FirewallPlan, command: string) => string[]>
> = {
  firewalld,
  iptables,
  nftables,
  ufw,
};

/** The whole script for one firewall, ending in a newline. */
export function renderFirewall(
  plan: FirewallPlan,
  format: FirewallFormat,
  command = `${RUN} firewall`,
): string {
  return `${RENDERERS[format](plan, command).join('\n')}\n`;
}

/** The file name of a node's script: its name, made safe, and the format's extension. */
export function scriptName(node: string, format: FirewallFormat): string {
  const safe = node.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${safe}.${format === 'nftables' ? 'nft' : 'sh'}`;
}

/** How long --per-node waits for the cluster's node list. */
const DISCOVERY_TIMEOUT_MS = 30_000;

/**
 * The nodes that get a script: the config file's, else the cluster's (a first list
 * through discovery). Undefined, with the reason on stderr, when none came in time.
 */
async function nodesForScripts(
  options: FirewallCommandOptions,
  io: CommandIo,
): Promise<readonly { readonly name: string; readonly roles: readonly Role[] }[] | undefined> {
  const { config } = options;
  if (!config.embeddedDefault) return config.nodes;
  const [{ selectSource }, { firstSnapshot }] = await Promise.all([
    import('../discovery/select.js'),
    import('./first-snapshot.js'),
  ]);
  const logger = commandLogger(config.logLevel, io, 'firewall');
  const source = selectSource(config, { logger });
  if (source.name !== 'kubernetes') {
    throw new ConfigError(
      'FLAG_INVALID',
      '--per-node: expected --config.file with nodes, or a cluster to list them from, got neither',
    );
  }
  try {
    const snapshot = await firstSnapshot(source, DISCOVERY_TIMEOUT_MS, systemClock);
    if (snapshot) return snapshot.nodes;
  } finally {
    await source.stop();
  }
  io.stderr.write(
    `firewall: the kubernetes source listed no nodes within ${DISCOVERY_TIMEOUT_MS / 1000} s\n`,
  );
  return undefined;
}

export async function runFirewall(options: FirewallCommandOptions, io: CommandIo): Promise<number> {
  const planOptions = {
    ...(options.kubernetesVersion !== undefined && {
      kubernetesVersion: options.kubernetesVersion,
    }),
    sources: options.sources,
    includeUnknownVersion: options.includeUnknownVersion,
  };
  if (options.perNodeDir === undefined) {
    const plan = firewallPlan(options.config, { roles: options.roles ?? [], ...planOptions });
    io.stdout.write(renderFirewall(plan, options.format));
    return EXIT_OK;
  }
  const dir = options.perNodeDir;
  const nodes = await nodesForScripts(options, io);
  if (nodes === undefined) return EXIT_FAILED;
  await mkdir(dir, { recursive: true });
  for (const node of nodes) {
    const plan = firewallPlan(options.config, { roles: node.roles, ...planOptions });
    const path = join(dir, scriptName(node.name, options.format));
    await writeFile(path, renderFirewall(plan, options.format), { mode: 0o755 });
    io.stdout.write(`${path}\n`);
  }
  return EXIT_OK;
}
