/**
 * What a property test accepts from code that takes untrusted input: a result, or a
 * ConfigError whose message is one line that says where the problem is. Anything
 * else (another exception, a multi-line message, a stack) fails the property with
 * the input that caused it, which fast-check then shrinks.
 */
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.js';

/** Characters that end a line on a terminal or in a log viewer. */
const LINE_BREAK = /[\r\n\u0085\u2028\u2029]/;

/** One line: no line break of any kind, no stack frame, bounded length. */
export function assertOneLine(message: string, input: unknown): void {
  const shown = () => `message ${JSON.stringify(message)} for input ${JSON.stringify(input)}`;
  assert.doesNotMatch(message, LINE_BREAK, `line break in ${shown()}`);
  assert.doesNotMatch(message, /\bat \S+ \(?(?:file|node):/, `stack frame in ${shown()}`);
  assert.ok(message.trim().length > 0, `empty ${shown()}`);
  // showValue cuts values to about 60 characters; a message is a sentence, not a dump.
  assert.ok(message.length <= 600, `${message.length} characters: ${shown()}`);
}

/**
 * Where a config file message says the problem is: a YAML position, a field path
 * (`nodes[0].roles[1]`, `ports["a b"]`), or the top level (`expected a mapping ...`).
 * The path is what formatPath makes: keys joined with dots, numbers and odd keys in
 * brackets.
 */
const NAME = '[A-Za-z0-9_-]+';
const INDEX = '\\[\\d+\\]|\\["(?:[^"\\\\]|\\\\.)*"\\]';
const FILE_PROBLEM_AT = new RegExp(
  '^(?:' +
    [
      // A YAML syntax error, by position.
      'line \\d+, column \\d+: \\S',
      // The whole document is wrong.
      'expected \\S',
      // A field path, then the problem.
      `(?:${NAME}|${INDEX})(?:\\.${NAME}|${INDEX})*: \\S`,
      // A problem of the YAML document as a whole (aliases, anchors), which has no position.
      '(?:excessive alias count|unresolved alias|alias \\S)',
    ].join('|') +
    ')',
);

/** Runs `parse`; passes when it returns, or throws a ConfigError naming where, in one line. */
export function expectResultOrFileError(
  parse: () => unknown,
  sourceName: string,
  input: unknown,
): 'ok' | 'error' {
  try {
    parse();
    return 'ok';
  } catch (error) {
    assertConfigError(error, input);
    const { message } = error as ConfigError;
    const prefix = `${sourceName}: `;
    assert.ok(message.startsWith(prefix), `no "${prefix}" in ${JSON.stringify(message)}`);
    assert.match(
      message.slice(prefix.length),
      FILE_PROBLEM_AT,
      `message names no field or position: ${JSON.stringify(message)}`,
    );
    return 'error';
  }
}

/** A ConfigError with a stable code and a one-line message; nothing else is acceptable. */
export function assertConfigError(error: unknown, input: unknown): asserts error is ConfigError {
  if (!(error instanceof ConfigError)) {
    const shown = error instanceof Error ? (error.stack ?? error.message) : String(error);
    assert.fail(`not a ConfigError for input ${JSON.stringify(input)}:\n${shown}`);
  }
  assert.match(error.code, /^(CONFIG_INVALID|CONFIG_UNREADABLE|FLAG_INVALID)$/);
  assertOneLine(error.message, input);
}
