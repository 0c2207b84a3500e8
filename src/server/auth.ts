/**
 * HTTP basic auth against bcrypt hashes, as the exporter-toolkit's `basic_auth_users`.
 * A bcrypt costs ~70 ms of CPU at cost 10: successful checks are cached, so a scrape
 * every 15 s costs one bcrypt per password change, not one per scrape, and the
 * bcrypts that do run go one at a time, so a flood of wrong passwords takes one core
 * at most and never starves the probes' timers.
 */
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';

/** Tells whether an Authorization header's credentials are valid. */
export interface BasicAuth {
  /** True when `authorization` holds a user and password that match a configured hash. */
  check(authorization: string | undefined): Promise<boolean>;
}

export interface BasicAuthOptions {
  /** Largest number of successful checks remembered; the oldest go first. Default 256. */
  readonly cacheSize?: number;
  /** Checks a password against a bcrypt hash; default bcryptjs's. Tests count the calls. */
  readonly compare?: (password: string, hash: string) => Promise<boolean>;
}

/**
 * A checker for `users` (name -> bcrypt hash). With no users, every request passes:
 * the toolkit's meaning of an empty `basic_auth_users`.
 */
export function createBasicAuth(
  users: Readonly<Record<string, string>>,
  options: BasicAuthOptions = {},
): BasicAuth {
  const hashes = new Map(Object.entries(users));
  if (hashes.size === 0) return { check: () => Promise.resolve(true) };
  const cacheSize = options.cacheSize ?? 256;
  const compare = options.compare ?? bcrypt.compare;
  // Keys are digests of user, hash and password: the cache never holds a password.
  const verified = new Set<string>();
  const decoy = decoyHash(hashes.values());
  let queue: Promise<unknown> = Promise.resolve();

  return {
    async check(authorization) {
      const credentials = parseBasic(authorization);
      if (!credentials) return false;
      const hash = hashes.get(credentials.user);
      const key = cacheKey(credentials.user, hash ?? '', credentials.password);
      if (hash !== undefined && verified.has(key)) return true;
      // An unknown user still costs a bcrypt, so timing does not tell which users exist.
      const run = queue.then(() => compare(credentials.password, hash ?? decoy));
      queue = run.catch(() => false);
      const ok = (await run) && hash !== undefined;
      if (ok) {
        verified.add(key);
        if (verified.size > cacheSize) {
          const [oldest] = verified;
          if (oldest !== undefined) verified.delete(oldest);
        }
      }
      return ok;
    },
  };
}

/** `Basic base64(user:password)` -> its parts; the password may hold colons. */
export function parseBasic(
  authorization: string | undefined,
): { readonly user: string; readonly password: string } | undefined {
  if (authorization === undefined) return undefined;
  const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(authorization);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function cacheKey(user: string, hash: string, password: string): string {
  return createHash('sha256')
    .update(user)
    .update('\u0000')
    .update(hash)
    .update('\u0000')
    .update(password)
    .digest('base64');
}

/**
 * A hash no password matches, with the highest cost among the real ones, so checking
 * an unknown user takes as long as checking a known one.
 */
function decoyHash(hashes: Iterable<string>): string {
  let cost = 4;
  for (const hash of hashes) cost = Math.max(cost, bcrypt.getRounds(hash));
  return `$2b$${String(cost).padStart(2, '0')}$${'.'.repeat(22)}${'.'.repeat(31)}`;
}
