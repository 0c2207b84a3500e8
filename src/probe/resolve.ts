/**
 * Host names are resolved once per cycle, before probing, so a cycle of 20,000
 * probes to 100 nodes costs 100 lookups, not 20,000, and every probe of one node in
 * a cycle goes to the same address.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** What one host resolved to: an address, or the errno code of the failure. */
export type Resolution = { readonly ip: string } | { readonly error: string };

/** Turns a host name into one address; rejects with an errno-coded error. */
export type LookupFn = (host: string) => Promise<{ readonly address: string }>;

export interface ResolverOptions {
  /**
   * The lookup to use. Default `dns.lookup`, which asks the system resolver
   * (nsswitch), so /etc/hosts entries work as they do for every other program.
   */
  readonly lookup?: LookupFn;
  /** Lookups in flight at once. Default 16. */
  readonly concurrency?: number;
}

export interface Resolver {
  /**
   * Resolves each distinct host once. IP literals are returned as they are; a name
   * that fails maps to `{ error: code }` (`ENOTFOUND`, `EAI_AGAIN`, ...). Never rejects.
   */
  resolve(hosts: Iterable<string>): Promise<Map<string, Resolution>>;
}

const defaultLookup: LookupFn = (host) => dnsLookup(host);

export function createResolver(options: ResolverOptions = {}): Resolver {
  const lookup = options.lookup ?? defaultLookup;
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 16));

  return {
    async resolve(hosts) {
      const results = new Map<string, Resolution>();
      const names: string[] = [];
      for (const host of hosts) {
        if (results.has(host)) continue;
        if (isIP(host) !== 0) {
          results.set(host, { ip: host });
        } else {
          // Placeholder keeps the name unique in `names` and holds its place in the map.
          results.set(host, { error: 'EPENDING' });
          names.push(host);
        }
      }

      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < names.length) {
          const name = names[next++] as string;
          results.set(name, await resolveOne(lookup, name));
        }
      };
      const workers: Promise<void>[] = [];
      for (let i = 0; i < Math.min(concurrency, names.length); i++) workers.push(worker());
      await Promise.all(workers);
      return results;
    },
  };
}

async function resolveOne(lookup: LookupFn, name: string): Promise<Resolution> {
  try {
    const { address } = await lookup(name);
    return { ip: address };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && code !== '') return { error: code };
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
