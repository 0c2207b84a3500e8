/**
 * How a large cluster's probing is divided: shards split the targets among several
 * exporters, and the per-node mesh bounds how many peers each node agent probes.
 * Both are pure functions of names, so every replica decides the same way without
 * talking to the others.
 */
import { createHash } from 'node:crypto';

/** A 64-bit hash of text, as Prometheus' hashmod takes it: the low 8 bytes of MD5. */
function hash64(text: string): bigint {
  return createHash('md5').update(text).digest().readBigUInt64BE(8);
}

/** Which of `count` shards a target key belongs to. */
export function shardOf(key: string, count: number): number {
  return Number(hash64(key) % BigInt(count));
}

export interface Shard {
  /** 0-based. */
  readonly index: number;
  readonly count: number;
}

/** `--shard=i/N`: i from 0 to N-1. Undefined when the text is not of that form. */
export function parseShard(text: string): Shard | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  if (!match) return undefined;
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1 || count > 10_000 || index >= count) return undefined;
  return { index, count };
}

/**
 * The peers a node agent probes: the `count` other nodes with the highest
 * rendezvous weight for (self, peer). Stable: a node joining or leaving changes only
 * the choices it wins or loses. Spread: each node is picked by about `count` agents,
 * so the whole mesh costs nodes x count probes, not nodes squared.
 */
export function meshPeers(self: string, nodes: readonly string[], count: number): string[] {
  return nodes
    .filter((name) => name !== self)
    .map((name) => ({ name, weight: hash64(`${self}\u0000${name}`) }))
    .sort((a, b) => (a.weight === b.weight ? 0 : a.weight > b.weight ? -1 : 1))
    .slice(0, Math.max(0, count))
    .map((peer) => peer.name);
}
