/**
 * A YAML file read against a zod schema, every problem one line: the config file and
 * the web config both load this way, so their messages take one form. What each file
 * checks beyond its schema (input limits, keys it refuses, rules across fields) stays
 * with that file's loader.
 */
import { type Document, parseDocument } from '../vendor/yaml.js';
import * as z from '../vendor/zod.js';
import { type ConfigIssue, describeIssue, fallbackExpected } from './issues.js';

/** Makes the error a loader throws: its file's name in front of `message`. */
export type YamlFail = (message: string, cause?: unknown) => Error;

export interface YamlTextOptions {
  /**
   * Start the YAML library's sentences in lower case, as the config file's messages do
   * after a colon. false keeps the library's capital, as the web config always has.
   */
  readonly lowerCase: boolean;
}

/**
 * The plain value of YAML text; a file of comments only is an empty mapping. A syntax
 * error, more than one document or a broken alias is thrown through `fail`, in one line.
 */
export function yamlValue(text: string, fail: YamlFail, options: YamlTextOptions): unknown {
  const words = (message: string) => (options.lowerCase ? lowerFirst(message) : message);
  // The library's warnings (a collection as a key) would go to stderr as a Node warning,
  // outside the JSON log; every problem that matters fails against the schema.
  const document = parseDocument(text, { logLevel: 'error' });
  const [syntax] = document.errors;
  if (syntax) throw fail(yamlProblem(syntax, words), syntax);
  let value: unknown;
  try {
    value = document.toJS();
  } catch (error) {
    // An alias to an anchor that does not exist, or too many aliases.
    throw fail(error instanceof Error ? words(error.message) : String(error), error);
  }
  return value ?? {};
}

type YamlError = Document['errors'][number];

function yamlProblem(error: YamlError, words: (message: string) => string): string {
  const where = error.linePos?.[0];
  // The library's message ends with the position and a picture of the line; keep the words.
  const what =
    error.code === 'MULTIPLE_DOCS'
      ? 'the file holds more than one YAML document'
      : words(error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, ''));
  return where ? `line ${where.line}, column ${where.col}: ${what}` : what;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** A value the schema took, or the first problem it found and the error for a cause. */
export type SchemaResult<T> =
  | { readonly ok: true; readonly data: T }
  | { readonly ok: false; readonly issue: ConfigIssue; readonly error: z.ZodError };

/**
 * `value` against `schema`, a failure in the operator's words (describeIssue). A misspelt
 * key also leaves the real key missing; the spelling is the news, so it comes first.
 */
export function parseWithSchema<S extends z.ZodType>(
  schema: S,
  value: unknown,
): SchemaResult<z.output<S>> {
  const parsed = schema.safeParse(value, {
    reportInput: true,
    error: (issue) => fallbackExpected(issue),
  });
  if (parsed.success) return { ok: true, data: parsed.data };
  const { issues } = parsed.error;
  const first = issues.find((issue) => issue.code === 'unrecognized_keys') ?? issues[0];
  return {
    ok: false,
    issue: first ? describeIssue(first) : { path: [], message: 'invalid' },
    error: parsed.error,
  };
}

/** A mapping with exactly these keys; an unknown key is an error that lists the known ones. */
export function section<Shape extends z.ZodRawShape>(shape: Shape) {
  const keys = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `one of ${keys}` : `a mapping with keys ${keys}`,
  });
}

/** One of `values`; anything else reads `expected one of a, b, c, got ...`. */
export function oneOfValues<const T extends readonly string[]>(values: T) {
  return z.enum(values, { error: `one of ${values.join(', ')}` });
}

/** A YAML boolean; `yes` or `"no"` read `expected true or false, got ...`. */
export const trueOrFalse = z.boolean({ error: 'true or false' });

/** A string that is not empty; anything else reads `expected <what>, got ...`. */
export function nonEmptyText(what: string) {
  return z.string({ error: what }).min(1, { error: what });
}
