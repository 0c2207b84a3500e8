/**
 * The text of /proc/net/tcp and /proc/net/tcp6, parsed: which sockets use which local
 * port, and their inodes, which /proc/PID/fd links name. Pure, so it is tested from
 * literals; owners.ts does the reading.
 */

/** The kernel's TCP state number for LISTEN, as /proc/net/tcp writes it. */
export const TCP_LISTEN = '0A';

export interface ProcSocket {
  /** The local address, decoded: `127.0.0.1`, `::`, `::ffff:10.0.0.1`. */
  readonly localAddress: string;
  readonly port: number;
  /** Hex state as written (`0A` LISTEN, `01` ESTABLISHED, ...). */
  readonly state: string;
  readonly uid: number;
  /** 0 for sockets that belong to no process any more (TIME_WAIT). */
  readonly inode: number;
}

/** One 32-bit word of /proc's address: hex in host byte order, little-endian here. */
function wordBytes(hex: string): number[] {
  const value = Number.parseInt(hex, 16);
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

/** `0100007F` -> `127.0.0.1`; 32 hex digits -> an IPv6 address in its short form. */
export function decodeAddress(hex: string): string | undefined {
  if (!/^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{32})$/.test(hex)) return undefined;
  if (hex.length === 8) return wordBytes(hex).join('.');
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8)));
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.slice(12).join('.')}`;
  }
  return compressIpv6(groups);
}

/** RFC 5952: the longest run of two or more zero groups becomes `::`. */
function compressIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

/** Every socket line of /proc/net/tcp or tcp6; lines that do not parse are skipped. */
export function parseProcNetTcp(text: string): ProcSocket[] {
  const sockets: ProcSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const [, local, , state, , , , uid, , inode] = fields;
    const colon = local?.indexOf(':') ?? -1;
    if (local === undefined || colon < 0) continue;
    const localAddress = decodeAddress(local.slice(0, colon));
    const port = Number.parseInt(local.slice(colon + 1), 16);
    if (localAddress === undefined || !Number.isInteger(port)) continue;
    sockets.push({
      localAddress,
      port,
      state: state ?? '',
      uid: Number(uid),
      inode: Number(inode),
    });
  }
  return sockets;
}

/** `socket:[12345]` (a /proc/PID/fd link) -> 12345; anything else -> undefined. */
export function socketInode(link: string): number | undefined {
  const match = /^socket:\[(\d+)\]$/.exec(link);
  return match ? Number(match[1]) : undefined;
}
