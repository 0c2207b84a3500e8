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
    // A library message (YAML, fs) may bring line breaks; one line is the contract.
    super(oneLine(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

const MAX_SHOWN = 60;

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
  text = oneLine(text);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 3)}...` : text;
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
