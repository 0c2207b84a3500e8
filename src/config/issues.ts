/** One problem in the file: where it is and what is wrong there, before the file name is added. */
import type * as z from '../vendor/zod.js';
import { formatPath, showValue } from './errors.js';

export interface ConfigIssue {
  readonly path: readonly PropertyKey[];
  /** The text after the path: `expected an integer 1-65535, got "80a"`. */
  readonly message: string;
}

type Issue = z.core.$ZodIssue;

/**
 * A schema issue as the operator reads it. The schemas' own `error` texts say what
 * is expected; this adds what was found.
 */
export function describeIssue(issue: Issue): ConfigIssue {
  if (issue.code === 'invalid_union') {
    // When exactly one alternative got past the value's type and failed inside it
    // (a {min, max} with a bad max), its inner problem is the one to report.
    const inside = issue.errors.filter(
      (branch) => branch.length > 0 && branch.every((inner) => inner.path.length > 0),
    );
    const [only] = inside;
    if (inside.length === 1 && only?.[0]) {
      const inner = only[0];
      return describeIssue({ ...inner, path: [...issue.path, ...inner.path] } as Issue);
    }
  }
  if (issue.code === 'unrecognized_keys') {
    return {
      path: [...issue.path, issue.keys[0] ?? ''],
      message: `unknown key, expected ${issue.message}`,
    };
  }
  return { path: issue.path, message: `expected ${issue.message}, got ${showValue(issue.input)}` };
}

/**
 * Words for an issue from a schema that has no `error` of its own, so a forgotten one
 * still reads `expected ..., got ...`.
 */
export function fallbackExpected(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `a value of type ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((value) => showValue(value)).join(', ')}`;
    case 'unrecognized_keys':
      return 'no other keys';
    case 'too_small':
      return `at least ${String(issue.minimum)}`;
    case 'too_big':
      return `at most ${String(issue.maximum)}`;
    default:
      return 'a valid value';
  }
}

/** `path: message`, or the message alone for a problem with the whole file. */
export function issueLine(issue: ConfigIssue): string {
  const path = formatPath(issue.path);
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}
