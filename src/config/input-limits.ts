/**
 * What a config file may be before its content is looked at: a bounded size, valid
 * UTF-8, no control characters in any key or value, and no key that names a
 * JavaScript object's machinery. Pure, apart from readConfigBytes.
 *
 * Why each: a 50 MB file took 20 s and 2 GB to be refused by the schema; a decoder
 * that replaces invalid bytes with U+FFFD, or a NUL in a node name, gives a series
 * label that no longer names the node (its ICMP result was lost); a `__proto__` key
 * sets an object's prototype instead of a property, so it vanished without a word.
 */
import { open } from 'node:fs/promises';

/** The largest config file read: a 5,000-node static list is about 0.5 MB. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Keys that would reach an object's prototype or constructor: unknown everywhere. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** C0 and C1 controls and DEL; tab, line feed and carriage return are YAML's own. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u;

export class InputLimitError extends Error {
  constructor(
    message: string,
    readonly path: readonly PropertyKey[] = [],
  ) {
    super(message);
    this.name = 'InputLimitError';
  }
}

/** At most `max` bytes of a file (one past tells it is too large); stat sizes are not trusted (FIFOs). */
export async function readConfigBytes(path: string, max = MAX_CONFIG_BYTES): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > max) throw tooLarge(size, max, true);
    const chunks: Buffer[] = [];
    let total = 0;
    // Bounded: each turn reads at least a byte, and it stops past max.
    while (total <= max) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, max + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
    }
    if (total > max) throw tooLarge(total, max);
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

/** `exact`: the size is known, not only that it passed the cap. */
function tooLarge(bytes: number, max: number, exact = false): InputLimitError {
  const size = exact ? `${bytes} bytes` : `more than ${max} bytes`;
  return new InputLimitError(
    `the file is ${size}; a config file may be at most ${max} bytes (4 MiB)`,
  );
}

/** The text of `bytes`; throws InputLimitError naming the first byte that is not UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new InputLimitError(`not valid UTF-8 at byte ${firstInvalidByte(bytes)}`);
  }
}

/** The offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidByte(bytes: Uint8Array): number {
  // Bisect on prefixes: a prefix that decodes (stream: true allows a cut sequence at its
  // end) holds no error. About 22 decodes for 4 MiB.
  let good = 0;
  let bad = bytes.length;
  while (bad - good > 1) {
    const mid = (good + bad) >>> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
      good = mid;
    } catch {
      bad = mid;
    }
  }
  return good;
}

/** The size cap for text handed in by a reader other than readConfigBytes. */
export function checkTextSize(text: string, max = MAX_CONFIG_BYTES): void {
  if (text.length > max || Buffer.byteLength(text) > max) {
    throw tooLarge(Buffer.byteLength(text), max, true);
  }
}

/**
 * The first key or string value that breaks the rules, as an InputLimitError with its
 * path; undefined when all is well. Walks the parsed YAML (maps, lists, scalars).
 */
export function findForbidden(
  value: unknown,
  path: PropertyKey[] = [],
): InputLimitError | undefined {
  if (typeof value === 'string') {
    const control = CONTROL.exec(value);
    if (!control) return undefined;
    const code = (control[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
    return new InputLimitError(`expected no control characters, got U+${code}`, path);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findForbidden(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const key of Reflect.ownKeys(value)) {
    const name = String(key);
    if (FORBIDDEN_KEYS.has(name)) return new InputLimitError('unknown key', [...path, name]);
    const control = findForbidden(name, [...path, name]);
    if (control) return new InputLimitError(`${control.message} in a key`, path);
    const found = findForbidden((value as Record<PropertyKey, unknown>)[key], [...path, name]);
    if (found) return found;
  }
  return undefined;
}
