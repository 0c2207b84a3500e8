/**
 * The machinery of flag tables: a table says each flag's name, value, default and
 * help; parsing, defaults and `--help` rows all come from it. The exporter's table
 * (flags.ts) and each command's (beside the command in cli/) are compositions of
 * groups of flags, so a flag shared by several of them is written once.
 */
import { parseArgs } from 'node:util';
import { ConfigError, showValue } from './errors.js';

/** A flag value that does not parse; `expected` completes `--flag: expected ..., got ...`. */
export class BadValue extends Error {
  constructor(readonly expected: string) {
    super(expected);
  }
}

export interface ValueFlag<T, D extends string | undefined> {
  readonly kind: 'value';
  /** What the value is, in help: `--probe.interval=DURATION`. */
  readonly placeholder: string;
  /** Written as a user would type it and parsed like user input, so help shows it verbatim. */
  readonly default: D;
  readonly help: string;
  /** Throws BadValue when the text is not a valid value. */
  readonly parse: (text: string) => T;
}

export interface SwitchFlag {
  readonly kind: 'switch';
  readonly short?: string;
  readonly help: string;
}

export type AnyFlag = ValueFlag<unknown, string | undefined> | SwitchFlag;
export type FlagTable = Readonly<Record<string, AnyFlag>>;

export function valueFlag<T, const D extends string | undefined = undefined>(definition: {
  readonly placeholder: string;
  readonly default?: D;
  readonly help: string;
  readonly parse: (text: string) => T;
}): ValueFlag<T, D> {
  return { kind: 'value', ...definition, default: definition.default as D };
}

export function switchFlag(definition: {
  readonly short?: string;
  readonly help: string;
}): SwitchFlag {
  return { kind: 'switch', ...definition };
}

type ValueOf<F> =
  F extends ValueFlag<infer T, infer D> ? (D extends string ? T : T | undefined) : boolean;

/** The parsed values of a table: a flag with a default always has one. */
export type FlagValues<T extends FlagTable> = { readonly [K in keyof T]: ValueOf<T[K]> };

export interface ParsedTable<T extends FlagTable> {
  readonly values: FlagValues<T>;
  /** The flags written on the command line, by name: for "(the default)" and required checks. */
  readonly given: ReadonlySet<string>;
  readonly positionals: readonly string[];
}

export function flagError(message: string, cause?: unknown): ConfigError {
  return new ConfigError('FLAG_INVALID', message, { cause });
}

function parseArgsOptions(
  table: FlagTable,
): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  return Object.fromEntries(
    Object.entries(table).map(([name, flag]) => {
      if (flag.kind === 'value') return [name, { type: 'string' }];
      return [name, flag.short ? { type: 'boolean', short: flag.short } : { type: 'boolean' }];
    }),
  );
}

/**
 * Parses argv against one table. Throws ConfigError FLAG_INVALID, in one line, on an
 * unknown flag (`unknown`, when given, says whose flags these are), a missing value or
 * a bad one.
 */
export function parseTable<T extends FlagTable>(
  table: T,
  argv: readonly string[],
  owner?: string,
): ParsedTable<T> {
  const options = parseArgsOptions(table);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: true,
      tokens: true,
    });
  } catch (error) {
    throw flagError(diagnose(argv, options, owner) ?? firstLine(error), error);
  }
  checkGivenOnce(table, parsed.tokens ?? []);
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(table)) {
    const text = raw[name];
    if (flag.kind === 'switch') {
      values[name] = text === true;
      continue;
    }
    values[name] = parseValue(name, flag, typeof text === 'string' ? text : undefined);
  }
  const given = new Set(Object.keys(raw).filter((name) => raw[name] !== undefined));
  return { values: values as FlagValues<T>, given, positionals: parsed.positionals };
}

/**
 * parseArgs keeps the last of a repeated value flag; a flag given twice is more likely
 * a mistake (a copied command line, a chart value beside an extra arg) than a wish.
 */
function checkGivenOnce(
  table: FlagTable,
  tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>,
): void {
  const seen = new Map<string, string | undefined>();
  for (const token of tokens) {
    if (token.kind !== 'option' || table[token.name]?.kind !== 'value') continue;
    if (seen.has(token.name)) {
      const first = showValue(seen.get(token.name) ?? '');
      throw flagError(
        `--${token.name}: expected once, got it twice (${first}, then ${showValue(token.value ?? '')})`,
      );
    }
    seen.set(token.name, token.value);
  }
}

function parseValue(
  name: string,
  flag: ValueFlag<unknown, string | undefined>,
  text: string | undefined,
): unknown {
  const source = text ?? flag.default;
  if (source === undefined) return undefined;
  try {
    return flag.parse(source);
  } catch (error) {
    if (!(error instanceof BadValue)) throw error;
    const origin = text === undefined ? ' (the default)' : '';
    throw flagError(`--${name}: expected ${error.expected}, got ${showValue(source)}${origin}`);
  }
}

/** Every flag of the table at its default, as if none was given. */
export function defaultsOf<T extends FlagTable>(table: T): FlagValues<T> {
  return parseTable(table, []).values;
}

/**
 * argv read leniently, as tokens, with every flag of these tables known: a flag's value
 * is not taken for a positional, and an unknown flag is a token, not an error.
 */
export function lenientTokens(tables: readonly FlagTable[], argv: readonly string[]) {
  const options = Object.assign({}, ...tables.map(parseArgsOptions)) as ReturnType<
    typeof parseArgsOptions
  >;
  return leniently(argv, options);
}

function leniently(
  argv: readonly string[],
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>,
) {
  return parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  }).tokens;
}

/**
 * parseArgs' own messages are several lines and suggest `--` quoting; re-read the
 * arguments leniently to say in one line which flag is wrong.
 */
function diagnose(
  argv: readonly string[],
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>,
  owner: string | undefined,
): string | undefined {
  for (const token of leniently(argv, options)) {
    if (token.kind !== 'option') continue;
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (!option) return `unknown flag ${token.rawName}${owner ? ` for ${owner}` : ''}`;
    if (option.type === 'string') {
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-')))
        return `${token.rawName}: expected a value, got nothing`;
    } else if (token.value !== undefined) {
      return `${token.rawName}: expected no value, got ${showValue(token.value)}`;
    }
  }
  return undefined;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** The left and right of each flag's help line. */
export function flagRows(table: FlagTable): (readonly [string, string])[] {
  return Object.entries(table).map(([name, flag]) => {
    if (flag.kind === 'switch') {
      const left = flag.short ? `-${flag.short}, --${name}` : `    --${name}`;
      return [left, flag.help] as const;
    }
    // A no-break space keeps `(default: X)` on one line when the help wraps.
    const suffix = flag.default === undefined ? '' : ` (default:\u00a0${flag.default})`;
    return [`    --${name}=${flag.placeholder}`, `${flag.help}${suffix}`] as const;
  });
}

export const HELP_WIDTH = 100;

/** Aligned rows, each wrapped at HELP_WIDTH with continuation lines under the help. */
export function renderRows(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  const indent = ' '.repeat(width + 4);
  return rows.map(([left, help]) => wrap(`  ${left.padEnd(width)}  ${help}`, indent));
}

/** Breaks a long help line at spaces; continuation lines start at `indent`. */
export function wrap(line: string, indent: string, width = HELP_WIDTH): string {
  const lines: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width);
    if (cut <= indent.length) break;
    lines.push(rest.slice(0, cut));
    rest = indent + rest.slice(cut + 1);
  }
  lines.push(rest);
  return lines.join('\n').replaceAll('\u00a0', ' ');
}
