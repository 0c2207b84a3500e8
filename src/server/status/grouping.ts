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

/** Items handled between two yields of groupInSlices. */
export const GROUP_SLICE = 2048;

/**
 * Groups `items`. `nothingAnswers(node)` says a node is down from this vantage: all its
 * failing items become one row, whatever their causes.
 */
export function groupItems<T>(
  items: readonly T[],
  keyOf: (item: T) => GroupKey,
  nothingAnswers: (node: string) => boolean,
): Group<T>[] {
  const steps = groupSteps(items, keyOf, nothingAnswers);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** groupItems, one loop turn per GROUP_SLICE items: 100,000 failures must not hold the probes. */
export async function groupInSlices<T>(
  items: readonly T[],
  keyOf: (item: T) => GroupKey,
  nothingAnswers: (node: string) => boolean,
  yieldTurn: () => Promise<void>,
): Promise<Group<T>[]> {
  const steps = groupSteps(items, keyOf, nothingAnswers);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await yieldTurn();
  }
}

function* groupSteps<T>(
  items: readonly T[],
  keyOf: (item: T) => GroupKey,
  nothingAnswers: (node: string) => boolean,
): Generator<void, Group<T>[]> {
  const keys: GroupKey[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % GROUP_SLICE === 0) yield;
    keys[i] = keyOf(items[i] as T);
  }
  const taken = new Uint8Array(items.length);
  const groups: { group: Group<T>; first: number }[] = [];

  // 1. Nodes where nothing answers.
  const downNodes = new Map<string, number[]>();
  const downCache = new Map<string, boolean>();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as GroupKey;
    let down = downCache.get(k.node);
    if (down === undefined) {
      down = nothingAnswers(k.node);
      downCache.set(k.node, down);
    }
    if (!down) continue;
    let list = downNodes.get(k.node);
    if (!list) {
      list = [];
      downNodes.set(k.node, list);
    }
    list.push(i);
  }
  yield;
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
  for (const kind of ['port', 'node'] as const) {
    yield;
    const byKey = new Map<string | number, Map<string, number[]>>();
    for (let i = 0; i < keys.length; i++) {
      if (i > 0 && i % GROUP_SLICE === 0) yield;
      if (taken[i]) continue;
      const k = keys[i] as GroupKey;
      const id = kind === 'port' ? k.port : k.node;
      let byCause = byKey.get(id);
      if (!byCause) {
        byCause = new Map();
        byKey.set(id, byCause);
      }
      let list = byCause.get(k.cause);
      if (!list) {
        list = [];
        byCause.set(k.cause, list);
      }
      list.push(i);
    }
    for (const byCause of byKey.values()) {
      for (const members of byCause.values()) {
        if (members.length < 2) continue;
        // A port row spans nodes: two IPs of one node failing are that node's (dual stack).
        if (kind === 'port' && new Set(members.map((i) => (keys[i] as GroupKey).node)).size < 2) {
          continue;
        }
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
  }

  // 4. The rest, one each.
  for (let i = 0; i < keys.length; i++) {
    if (taken[i]) continue;
    const k = keys[i] as GroupKey;
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
  }
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
