/**
 * What fails, in as few rows as tell the whole story. A node where nothing answers is
 * one row, whatever its number of ports; a port that fails the same way on several
 * nodes (a NodePort Service without endpoints) is one row with a count; what is left of
 * one node failing one way (its firewall drops a dozen ports) is one row; the rest are
 * one row each. Pure: items in, groups out, in the order the items came.
 */

/** How one item is grouped. */
export interface GroupKey {
  readonly node: string;
  readonly port: number;
  /** Items group only with the same cause: `down/timeout`, `exposed/open`... */
  readonly cause: string;
}

export type GroupKind = 'node' | 'port' | 'target';

export interface Group<T> {
  /** `node`: several ports of one node; `port`: one port on several nodes; `target`: one. */
  readonly kind: GroupKind;
  readonly node?: string;
  readonly port?: number;
  /** The cause all items share; for a node where nothing answers, its commonest cause. */
  readonly cause: string;
  /** A node group of a node where nothing answered (open or refused) this cycle. */
  readonly nodeDown: boolean;
  readonly items: readonly T[];
}

/**
 * Groups `items`. `nothingAnswers(node)` says a node is down from this vantage: all its
 * failing items become one row, whatever their causes.
 */
export function groupItems<T>(
  items: readonly T[],
  keyOf: (item: T) => GroupKey,
  nothingAnswers: (node: string) => boolean,
): Group<T>[] {
  const keys = items.map(keyOf);
  const taken = new Uint8Array(items.length);
  const groups: { group: Group<T>; first: number }[] = [];

  // 1. Nodes where nothing answers.
  const downNodes = new Map<string, number[]>();
  keys.forEach((k, i) => {
    if (!nothingAnswers(k.node)) return;
    let list = downNodes.get(k.node);
    if (!list) {
      list = [];
      downNodes.set(k.node, list);
    }
    list.push(i);
  });
  for (const [node, members] of downNodes) {
    for (const i of members) taken[i] = 1;
    groups.push({
      group: {
        kind: members.length > 1 ? 'node' : 'target',
        node,
        ...(members.length === 1 && { port: (keys[members[0] as number] as GroupKey).port }),
        cause: commonest(members.map((i) => (keys[i] as GroupKey).cause)),
        nodeDown: true,
        items: members.map((i) => items[i] as T),
      },
      first: members[0] as number,
    });
  }

  // 2. One port failing one way on several nodes; 3. one node failing one way on several ports.
  for (const [kind, field] of [
    ['port', 'port'],
    ['node', 'node'],
  ] as const) {
    const byKey = new Map<string, number[]>();
    keys.forEach((k, i) => {
      if (taken[i]) return;
      const id = `${k[field]}\0${k.cause}`;
      let list = byKey.get(id);
      if (!list) {
        list = [];
        byKey.set(id, list);
      }
      list.push(i);
    });
    for (const members of byKey.values()) {
      if (members.length < 2) continue;
      for (const i of members) taken[i] = 1;
      const k = keys[members[0] as number] as GroupKey;
      groups.push({
        group: {
          kind,
          ...(kind === 'port' ? { port: k.port } : { node: k.node }),
          cause: k.cause,
          nodeDown: false,
          items: members.map((i) => items[i] as T),
        },
        first: members[0] as number,
      });
    }
  }

  // 4. The rest, one each.
  keys.forEach((k, i) => {
    if (taken[i]) return;
    groups.push({
      group: {
        kind: 'target',
        node: k.node,
        port: k.port,
        cause: k.cause,
        nodeDown: false,
        items: [items[i] as T],
      },
      first: i,
    });
  });
  return groups.sort((a, b) => a.first - b.first).map((g) => g.group);
}

function commonest(values: readonly string[]): string {
  const counts = new Map<string, number>();
  let best = values[0] ?? '';
  for (const v of values) {
    const c = (counts.get(v) ?? 0) + 1;
    counts.set(v, c);
    if (c > (counts.get(best) ?? 0)) best = v;
  }
  return best;
}
