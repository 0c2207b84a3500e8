/**
 * IP families: which of a node's addresses, and which answers of a name, are probed
 * (`ipFamilies` in the config; both by default, since a port open on one family and
 * dropped on the other is exactly what an operator must see).
 */
import { isIP } from 'node:net';

export const IP_FAMILIES = ['ipv4', 'ipv6'] as const;
export type IpFamily = (typeof IP_FAMILIES)[number];

/** The family of an IP literal; undefined for a host name. */
export function familyOf(address: string): IpFamily | undefined {
  const version = isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
}

/** An IP literal of a family asked for, or a name (its answers are filtered when it resolves). */
export function familyAllowed(address: string, families: readonly IpFamily[]): boolean {
  const family = familyOf(address);
  return family === undefined || families.includes(family);
}
