/**
 * The one error type of configuration: a bad flag, a bad file, a file that cannot be
 * read. Its message is one line that names where the problem is and what was found
 * there, so it reads well both on a terminal and inside a JSON log line.
 */

export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_UNREADABLE' | 'FLAG_INVALID';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: ConfigErrorCode;

  constructor(code: ConfigErrorCode, message: string, options?: { readonly cause?: unknown }) {
    // A library message (YAML, fs) may bring line breaks, or quote a whole token of a
    // garbage file; one line of readable length is the contract.
    super(
      cut(oneLine(message), MAX_MESSAGE),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
  }
}

function oneLine(text: string): string {
  return (
    text
      .replace(/\s*[\r\n]+\s*/g, ' ')
      // NEL and the Unicode line and paragraph separators break lines too (in terminals,
      // log viewers, splitlines), and JSON.stringify leaves them raw in a shown value.
      .replace(
        /[\u0085\u2028\u2029]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      )
      .trim()
  );
}

const MAX_SHOWN = 60;
/** Room for a path, what was expected and a shown value, with plenty to spare. */
const MAX_MESSAGE = 500;

/** At most `max` characters, `...` marking a cut, never half a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 3;
  if (/[\udc00-\udfff]/.test(text.charAt(end))) end--;
  return `${text.slice(0, end)}...`;
}

/**
 * A value as a message shows it: JSON, so a string reads `"80a"` and a number `80`,
 * cut to about 60 characters; `nothing` for a missing value.
 */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return cut(oneLine(text), MAX_SHOWN);
}

/** `['nodes', 1, 'roles', 0]` -> `nodes[1].roles[0]`; odd keys are quoted: `ports["a b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z0-9_-]+$/.test(key))
      text += text === '' ? key : `.${key}`;
    else text += `[${JSON.stringify(String(key))}]`;
  }
  return text;
}

/**
 * A failed read in one line: `ENOENT: no such file or directory, open 'x.yml'` ->
 * `ENOENT: no such file or directory`. The path already leads the message, and the
 * system call means nothing to an operator.
 */
export function readFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { syscall } = error as NodeJS.ErrnoException;
  if (syscall === undefined) return error.message;
  const at = error.message.lastIndexOf(`, ${syscall}`);
  return at > 0 ? error.message.slice(0, at) : error.message;
}
