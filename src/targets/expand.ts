/**
 * Planned targets, by the answers their names have now: a target whose address is a
 * name becomes one target per IP of the answer (both families of a dual-stack name),
 * each keyed by its IP. Pure: the answers come in, targets come out; the names are
 * resolved elsewhere (probe/names.ts), beside probing.
 */
import { newTarget, type Target } from './types.js';

/** What is known of an address now (probe/names.ts NameAnswer, as the planner needs it). */
export type AddressAnswer =
  | { readonly ips: readonly string[] }
  | { readonly error: string }
  | { readonly pending: true };

export interface Expansion {
  /** Every target, for the store: a name without an answer keeps one target with ip "". */
  readonly targets: readonly Target[];
  /** The targets to probe this cycle: all but those of names still waiting for a first answer. */
  readonly probed: readonly Target[];
}

/** Expands `planned` by `answerOf`; targets of IP literals pass as they are. */
export function expandTargets(
  planned: readonly Target[],
  answerOf: (address: string) => AddressAnswer,
): Expansion {
  const targets: Target[] = [];
  const probed: Target[] = [];
  const seen = new Set<string>();
  const add = (target: Target, probe: boolean) => {
    if (seen.has(target.key)) return;
    seen.add(target.key);
    targets.push(target);
    if (probe) probed.push(target);
  };
  for (const target of planned) {
    if (target.ip !== '') {
      add(target, true);
      continue;
    }
    const answer = answerOf(target.address);
    if ('ips' in answer && answer.ips.length > 0) {
      for (const ip of answer.ips) add(withIp(target, ip), true);
    } else {
      // No IP to send to: a result that says why (an error), or none yet (pending).
      add(target, !('pending' in answer));
    }
  }
  return { targets, probed };
}

/** The target with its IP; its key changes with it. */
function withIp(t: Target, ip: string): Target {
  return newTarget({ ...t, ip });
}
