import { type Applicability, applicability, type ClusterFacts } from './conditions.js';
import type { CatalogEntry, EntryBase, Role, UnprobedEntry, VersionRange } from './types.js';

/** `1.28`, `v1.28.3`, `1.28+` -> [1, 28]; undefined when it is not a version. */
export function parseMinorVersion(text: string): [number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)/.exec(text.trim());
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2])];
}

function compare(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

/**
 * Whether a Kubernetes version lies in a range. An unknown version is in no
 * bounded range: we cannot tell, so the caller treats such entries as optional.
 */
export function versionInRange(version: string | undefined, range: VersionRange | undefined) {
  if (!range || (range.from === undefined && range.until === undefined)) return true;
  const v = version === undefined ? undefined : parseMinorVersion(version);
  if (!v) return false;
  const from = range.from === undefined ? undefined : parseMinorVersion(range.from);
  const until = range.until === undefined ? undefined : parseMinorVersion(range.until);
  if (from && compare(v, from) < 0) return false;
  if (until && compare(v, until) >= 0) return false;
  return true;
}

/** Whether a node with these roles listens on this entry's port. */
export function entryAppliesToRoles(entry: EntryBase, roles: readonly Role[]): boolean {
  if (entry.roles === 'all') return true;
  return entry.roles.some((role) => roles.includes(role));
}

/** The entries a role must have open: the firewall and preflight commands ask this. */
export function entriesForRoles(
  catalog: readonly CatalogEntry[],
  roles: readonly Role[],
): CatalogEntry[] {
  return catalog.filter((entry) => entryAppliesToRoles(entry, roles));
}

/** An unprobed entry a node needs, and what the cluster's facts make of it. */
export interface UnprobedRequirement {
  readonly entry: UnprobedEntry;
  readonly applicability: Applicability;
}

/**
 * The UDP and IP-protocol entries a node of these roles needs under these facts, in
 * catalog order: what `firewall` opens beside the TCP ports (those whose condition
 * holds), and what the status page and check list as not probed. With VXLAN it is
 * 4789/udp; with IP-in-IP, IP protocol 4; with the condition unknown, both, optional.
 */
export function unprobedRequirements(
  catalog: readonly UnprobedEntry[],
  roles: readonly Role[],
  facts: ClusterFacts,
): UnprobedRequirement[] {
  return catalog
    .filter((entry) => entryAppliesToRoles(entry, roles))
    .map((entry) => ({ entry, applicability: applicability(entry, facts) }));
}
