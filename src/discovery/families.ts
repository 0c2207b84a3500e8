/**
 * IP families of addresses: which family a literal is, and whether it is one asked for.
 * The families themselves are in kinds/cluster.ts, which config shares.
 */
import { isIP } from 'node:net';
import { IP_FAMILIES, type IpFamily } from '../kinds/cluster.js';

export { IP_FAMILIES, type IpFamily };

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
