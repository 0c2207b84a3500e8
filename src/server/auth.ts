/**
 * HTTP basic auth against bcrypt hashes, as the exporter-toolkit's `basic_auth_users`.
 * A bcrypt costs ~70 ms of CPU at cost 10: successful checks are cached, so a scrape
 * every 15 s costs one bcrypt per password change, not one per scrape, and the
 * bcrypts that do run go one at a time, so a flood of wrong passwords takes one core
 * at most and never starves the probes' timers.
 *
 * One source cannot make the others wait (663 wrong guesses in 10 s once held a right
 * login for 60 s): the bcrypts queue per source address and the queues take turns; a
 * check whose client has gone is dropped before it costs a bcrypt; a source has a
 * budget of failed attempts (refilled over time) and a bound on checks queued, past
 * which it is answered 429 at no cost; and the decoy hash for unknown users is capped
 * at cost 10, so a made-up user name cannot buy a slower bcrypt than that.
 */
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';

/** `ok`: let in; `denied`: 401; `throttled`: 429, the source spent its budget; `gone`: the client left. */
export type AuthOutcome = 'ok' | 'denied' | 'throttled' | 'gone';

export interface AuthRequest {
  /** The client's address: budgets and queues are per source. Default one shared source. */
  readonly source?: string;
  /** Aborted when the client has gone: a check still queued is then dropped unrun. */
  readonly signal?: AbortSignal;
}

/** Tells whether an Authorization header's credentials are valid. */
export interface BasicAuth {
  /** True when `authorization` holds a user and password that match a configured hash. */
  check(authorization: string | undefined): Promise<boolean>;
  /** The same check, fair between sources and bounded per source. */
  admit(authorization: string | undefined, request?: AuthRequest): Promise<AuthOutcome>;
}

export interface BasicAuthOptions {
  /** Largest number of successful checks remembered; the oldest go first. Default 256. */
  readonly cacheSize?: number;
  /** Checks a password against a bcrypt hash; default bcryptjs's. Tests count the calls. */
  readonly compare?: (password: string, hash: string) => Promise<boolean>;
  /** Failed attempts a source may make before it is answered 429. Default 10. */
  readonly failureBudget?: number;
  /** One failed attempt comes back to a source's budget every this. Default 6 s (10 a minute). */
  readonly failureRefillMs?: number;
  /** Checks a source may have queued at once; more are answered 429. Default 4. */
  readonly queuedPerSource?: number;
  /** Default Date.now; tests pass a fake one. */
  readonly now?: () => number;
}

/** The decoy for unknown users costs at most this (2^10 rounds, ~70 ms). */
export const MAX_DECOY_COST = 10;

/**
 * A checker for `users` (name -> bcrypt hash). With no users, every request passes:
 * the toolkit's meaning of an empty `basic_auth_users`.
 */
export function createBasicAuth(
  users: Readonly<Record<string, string>>,
  options: BasicAuthOptions = {},
): BasicAuth {
  const hashes = new Map(Object.entries(users));
  if (hashes.size === 0) {
    return { check: () => Promise.resolve(true), admit: () => Promise.resolve('ok') };
  }
  const cacheSize = options.cacheSize ?? 256;
  const compare = options.compare ?? bcrypt.compare;
  const now = options.now ?? Date.now;
  const budget = new FailureBudget(
    options.failureBudget ?? 10,
    options.failureRefillMs ?? 6_000,
    now,
  );
  const queue = new FairQueue(options.queuedPerSource ?? 4);
  // Keys are digests of user, hash and password: the cache never holds a password.
  const verified = new Set<string>();
  const decoy = decoyHash(hashes.values());

  const admit = async (
    authorization: string | undefined,
    request: AuthRequest = {},
  ): Promise<AuthOutcome> => {
    const credentials = parseBasic(authorization);
    if (!credentials) return 'denied';
    const hash = hashes.get(credentials.user);
    const key = cacheKey(credentials.user, hash ?? '', credentials.password);
    if (hash !== undefined && verified.has(key)) return 'ok';
    const source = request.source ?? '';
    if (!budget.has(source)) return 'throttled';
    // An unknown user still costs a bcrypt, so timing does not tell which users exist.
    const result = await queue.run(source, request.signal, () =>
      compare(credentials.password, hash ?? decoy),
    );
    if (result === 'full') return 'throttled';
    if (result === 'gone') return 'gone';
    const ok = result && hash !== undefined;
    if (!ok) {
      budget.spend(source);
      return 'denied';
    }
    verified.add(key);
    if (verified.size > cacheSize) {
      const [oldest] = verified;
      if (oldest !== undefined) verified.delete(oldest);
    }
    return 'ok';
  };

  return {
    admit,
    check: async (authorization) => (await admit(authorization)) === 'ok',
  };
}

/**
 * Failed attempts per source, as a token bucket: `size` at most, one back every
 * `refillMs`. Sources with a full bucket are forgotten, so the map stays small.
 */
class FailureBudget {
  readonly #spent = new Map<string, { tokens: number; atMs: number }>();
  constructor(
    readonly size: number,
    readonly refillMs: number,
    readonly now: () => number,
  ) {}

  #tokens(source: string): number {
    const entry = this.#spent.get(source);
    if (!entry) return this.size;
    const tokens = Math.min(this.size, entry.tokens + (this.now() - entry.atMs) / this.refillMs);
    if (tokens >= this.size) this.#spent.delete(source);
    return tokens;
  }

  has(source: string): boolean {
    return this.#tokens(source) >= 1;
  }

  spend(source: string): void {
    this.#spent.set(source, { tokens: this.#tokens(source) - 1, atMs: this.now() });
  }
}

type QueueResult = boolean | 'gone' | 'full';

/**
 * One bcrypt at a time, the sources taking turns: each source has its own FIFO, and
 * the next check comes from the source after the one that ran last.
 */
class FairQueue {
  readonly #queues = new Map<string, (() => Promise<void>)[]>();
  #running = false;
  constructor(readonly perSource: number) {}

  run(
    source: string,
    signal: AbortSignal | undefined,
    work: () => Promise<boolean>,
  ): Promise<QueueResult> {
    let queue = this.#queues.get(source);
    if (!queue) {
      queue = [];
      this.#queues.set(source, queue);
    }
    if (queue.length >= this.perSource) return Promise.resolve('full');
    return new Promise<QueueResult>((resolve, reject) => {
      (queue as (() => Promise<void>)[]).push(async () => {
        // The client left while it waited: no bcrypt for nobody.
        if (signal?.aborted) {
          resolve('gone');
          return;
        }
        try {
          resolve(await work());
        } catch (err) {
          reject(err);
        }
      });
      this.#next();
    });
  }

  #next(): void {
    if (this.#running) return;
    // Map order is insertion order: take the first source's head, then move the source
    // to the back, so every source with work gets a turn before any gets a second.
    for (const [source, queue] of this.#queues) {
      const job = queue.shift();
      this.#queues.delete(source);
      if (queue.length > 0) this.#queues.set(source, queue);
      if (!job) continue;
      this.#running = true;
      job().finally(() => {
        this.#running = false;
        // Checks this source queued meanwhile wait behind every other source's.
        const again = this.#queues.get(source);
        if (again) {
          this.#queues.delete(source);
          this.#queues.set(source, again);
        }
        this.#next();
      });
      return;
    }
  }
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
 * A hash no password matches, with the highest cost among the real ones (capped at
 * MAX_DECOY_COST), so checking an unknown user takes as long as checking a known one.
 */
function decoyHash(hashes: Iterable<string>): string {
  let cost = 4;
  for (const hash of hashes) cost = Math.max(cost, bcrypt.getRounds(hash));
  cost = Math.min(cost, MAX_DECOY_COST);
  return `$2b$${String(cost).padStart(2, '0')}$${'.'.repeat(22)}${'.'.repeat(31)}`;
}
