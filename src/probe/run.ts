/**
 * How a target is probed: its host resolved once per cycle, then the prober of its
 * protocol. The exporter and the one-shot `check` share this, so both reach a port
 * the same way and agree on what they find.
 */
import type { Protocol } from '../catalog/types.js';
import type { Target } from '../targets/types.js';
import { PROBERS } from './registry.js';
import { createResolver, type Resolution, type Resolver } from './resolve.js';
import type { ProbeResult, Prober } from './types.js';

export interface TargetProberOptions {
  /** Default createResolver(): the system resolver, as every other program on the host. */
  readonly resolver?: Resolver;
  /** Default PROBERS. */
  readonly probers?: Readonly<Record<Protocol, Prober>>;
}

export interface TargetProber {
  /** Resolves every distinct address of these targets; call at each cycle start. */
  prepare(targets: readonly Target[]): Promise<void>;
  /** What an address resolved to at the last prepare; undefined when it was not asked. */
  resolution(address: string): Resolution | undefined;
  /** One probe. A host that did not resolve gives state `error` with the lookup's code. */
  probe(target: Target, timeoutMs: number): Promise<ProbeResult>;
}

const UNRESOLVED: Resolution = { error: 'EUNRESOLVED' };

export function createTargetProber(options: TargetProberOptions = {}): TargetProber {
  const resolver = options.resolver ?? createResolver();
  const probers = options.probers ?? PROBERS;
  let resolutions = new Map<string, Resolution>();
  return {
    async prepare(targets) {
      const hosts = new Set<string>();
      for (const target of targets) hosts.add(target.address);
      resolutions = await resolver.resolve(hosts);
    },
    resolution: (address) => resolutions.get(address),
    probe(target, timeoutMs) {
      const resolution = resolutions.get(target.address) ?? UNRESOLVED;
      if ('error' in resolution) {
        return Promise.resolve({ state: 'error', durationSeconds: 0, error: resolution.error });
      }
      return probers[target.protocol]({ ip: resolution.ip, port: target.port, timeoutMs });
    },
  };
}
