/**
 * The one map from protocol to prober (blackbox_exporter's prober map). The config
 * schema's protocol list is `PROTOCOLS` in catalog/types.ts; typing this map as a
 * `Record` over that list makes a protocol without a prober a compile error.
 */
import type { Protocol } from '../catalog/types.js';
import { handleProber, tcpBinding } from './handle-connect.js';
import { tcpProbe } from './tcp.js';
import type { Prober } from './types.js';

const binding = tcpBinding();

export const PROBERS: Readonly<Record<Protocol, Prober>> = Object.freeze({
  // On the TCP handle where this Node.js has it: cheaper, and it tells local failures apart.
  tcp: binding ? handleProber(binding) : tcpProbe,
});
