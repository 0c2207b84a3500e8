/** The first snapshot a source sends, for the one-shot commands that discover once. */
import type { DiscoverySnapshot, Source } from '../discovery/types.js';
import type { Clock } from '../util/clock.js';

/** The source's first snapshot, or undefined when none came within the timeout. */
export async function firstSnapshot(
  source: Source,
  timeoutMs: number,
  clock: Clock,
): Promise<DiscoverySnapshot | undefined> {
  let arrived!: (snapshot: DiscoverySnapshot) => void;
  const first = new Promise<DiscoverySnapshot>((resolve) => {
    arrived = resolve;
  });
  await source.start((snapshot) => arrived(snapshot));
  const timeout = new AbortController();
  const expired = clock.sleep(timeoutMs, timeout.signal).then(() => undefined);
  try {
    return await Promise.race([first, expired]);
  } finally {
    timeout.abort();
  }
}
