import { isIP, isIPv4, isIPv6 } from 'node:net';

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * A DNS host name (RFC 1123): dot-separated labels of letters, digits and inner
 * hyphens, 253 characters at most. The last label may not be all digits, so a
 * mistyped IPv4 address such as `10.0.0.256` is not taken for a name.
 */
export function isHostName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label))) return false;
  return !/^\d+$/.test(labels[labels.length - 1] ?? '');
}

/** Where a node can be probed: an IPv4 or IPv6 address, or a host name. */
export function isNodeAddress(text: string): boolean {
  return isIP(text) !== 0 || isHostName(text);
}

export const NODE_ADDRESS_EXPECTED = 'an IPv4 or IPv6 address or a DNS host name';

export interface ListenAddress {
  /** Undefined means every interface. */
  readonly host?: string;
  /** 0 lets the system pick a free port (tests use it). */
  readonly port: number;
}

export const LISTEN_ADDRESS_EXPECTED = 'an address such as :19101, 127.0.0.1:19101 or [::1]:19101';

/** `:PORT`, `HOST:PORT` or `[IPv6]:PORT`, as Prometheus' `--web.listen-address` takes it. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const [, bracketed, plain, portText] = match;
  const port = Number(portText);
  if (port > 65535) return undefined;
  if (bracketed !== undefined) return isIPv6(bracketed) ? { host: bracketed, port } : undefined;
  if (plain === undefined || plain === '') return { port };
  return isIPv4(plain) || isHostName(plain) ? { host: plain, port } : undefined;
}
