/**
 * Errors in the operator's words: check prints what went wrong, not the errno. The
 * errno stays in the JSON's `error` for scripts.
 */

const WORDS: Readonly<Record<string, string>> = {
  ENOTFOUND: 'host name does not resolve',
  EAI_AGAIN: 'host name does not resolve: the resolver did not answer',
  ETIMEOUT: 'host name does not resolve: the resolver did not answer',
  ENODATA: 'host name has no address of the IP families probed',
  EAI_NODATA: 'host name has no address of the IP families probed',
  EMFILE: 'no file descriptor left here (ulimit -n)',
  ENFILE: 'no file descriptor left on this machine',
  EADDRNOTAVAIL: 'no local address or port left here',
  ENOBUFS: 'out of network buffers here',
  'icmp off': 'ICMP echo is off',
};

/** The words for a probe's error code; the code itself when it has none. */
export function errorInWords(code: string | undefined): string {
  if (code === undefined) return 'unknown error';
  return WORDS[code] ?? code;
}

/** True when the probe never ran because the name gave no address. */
export function isResolverError(code: string | undefined): boolean {
  return code !== undefined && /^(ENOTFOUND|EAI_AGAIN|ETIMEOUT|ENODATA|EAI_NODATA)$/.test(code);
}
