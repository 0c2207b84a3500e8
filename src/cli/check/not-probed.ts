/**
 * What check leaves out from its vantage, and why, so the report can say so instead of
 * leaving a port silently missing: ports bound to each node's localhost (only a probe on
 * the node reaches them), UDP and IP-protocol entries (no prober tests them), and UDP or
 * SCTP NodePorts.
 */
import { entriesForRoles, unprobedRequirements } from '../../catalog/applies.js';
import { NO_FACTS } from '../../catalog/conditions.js';
import { type CatalogSettings, effectiveCatalog } from '../../catalog/overrides.js';
import { UNPROBED_CATALOG } from '../../catalog/ports.js';
import type { DiscoverySnapshot } from '../../discovery/types.js';
import type { Target } from '../../targets/types.js';

export interface NotProbed {
  /** `10257/tcp`, `4789/udp`, `IP protocol 4`. */
  readonly ports: readonly string[];
  /** The nodes it concerns. */
  readonly nodes: readonly string[];
  readonly reason: string;
}

export function notProbed(
  catalog: CatalogSettings,
  snapshot: DiscoverySnapshot,
  planned: readonly Target[],
): NotProbed[] {
  const entries = effectiveCatalog(catalog);
  // Only the localhost ports are looked up: not a key for each of 21,000 targets.
  const localhostPorts = new Set(entries.filter((e) => e.localhostOnly).map((e) => e.port));
  const probed = new Set<string>();
  for (const t of planned) {
    if (localhostPorts.has(t.port)) probed.add(`${t.node}\u0000${t.port}`);
  }
  const groups = new Map<string, { ports: Set<string>; nodes: Set<string>; reason: string }>();
  const note = (reason: string, port: string, node: string) => {
    const group = groups.get(reason) ?? { ports: new Set(), nodes: new Set(), reason };
    group.ports.add(port);
    group.nodes.add(node);
    groups.set(reason, group);
  };
  for (const node of snapshot.nodes) {
    for (const entry of entriesForRoles(entries, node.roles)) {
      if (entry.localhostOnly && !probed.has(`${node.name}\u0000${entry.port}`)) {
        note(
          'bound to localhost on each node: only check run on the node itself (--vantage=node) reaches it',
          `${entry.port}/tcp`,
          node.name,
        );
      }
    }
    for (const { entry, applicability } of unprobedRequirements(
      UNPROBED_CATALOG,
      node.roles,
      snapshot.facts ?? NO_FACTS,
    )) {
      if (applicability.neutral) continue;
      const port =
        entry.protocol === 'ip' ? `IP protocol ${entry.ipProtocol}` : `${entry.port}/udp`;
      note(
        'no prober tests UDP or IP protocols: open them in the firewall (firewall command)',
        port,
        node.name,
      );
    }
    for (const nodePort of snapshot.nodePorts) {
      if (nodePort.protocol === 'TCP') continue;
      note(
        `${nodePort.protocol} NodePorts are not probed`,
        `${nodePort.nodePort}/${nodePort.protocol.toLowerCase()}`,
        node.name,
      );
    }
  }
  return [...groups.values()].map((group) => ({
    ports: [...group.ports],
    nodes: [...group.nodes],
    reason: group.reason,
  }));
}
