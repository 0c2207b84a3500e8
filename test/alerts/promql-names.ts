/**
 * The metric names and label names a PromQL expression uses, found by a small
 * tokenizer: enough for the expressions of our own rules and dashboards, which promtool
 * has already parsed (so this need not reject bad syntax, only read good syntax right).
 */

type Token =
  | { readonly kind: 'ident'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'number'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: string };

const PUNCT = [
  '=~',
  '!~',
  '!=',
  '==',
  '<=',
  '>=',
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ',',
  '=',
  '<',
  '>',
];
const OPERATOR_CHARS = '+-*/%^@:';

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr.charAt(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let text = '';
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === '\\' && c !== '`') j++;
        text += expr.charAt(j);
        j++;
      }
      if (j >= expr.length) throw new Error(`unterminated string in: ${expr}`);
      tokens.push({ kind: 'string', text });
      i = j + 1;
    } else if (/[a-zA-Z_]/.test(c)) {
      const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
      const text = m?.[0] ?? c;
      tokens.push({ kind: 'ident', text });
      i += text.length;
    } else if (/[0-9.]/.test(c)) {
      const m = /^[0-9.][0-9a-zA-Z.+]*/.exec(expr.slice(i));
      const text = m?.[0] ?? c;
      tokens.push({ kind: 'number', text });
      i += text.length;
    } else {
      const p = PUNCT.find((candidate) => expr.startsWith(candidate, i));
      if (p) {
        tokens.push({ kind: 'punct', text: p });
        i += p.length;
      } else if (OPERATOR_CHARS.includes(c)) {
        i++;
      } else {
        throw new Error(`unexpected ${JSON.stringify(c)} at ${i} in: ${expr}`);
      }
    }
  }
  return tokens;
}

/** Followed by a parenthesized list of label names. */
const LABEL_LIST_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
]);
/** Binary operators, modifiers and aggregations spelt as words (`avg by (x) (...)`). */
const WORD_OPERATORS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'atan2',
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
]);

export interface ExpressionNames {
  /** Each metric selected by name, with the labels its matchers name. */
  readonly metrics: ReadonlyMap<string, ReadonlySet<string>>;
  /** Labels named in by(), without(), on(), ignoring(), group_left(), group_right(). */
  readonly groupingLabels: ReadonlySet<string>;
  /** Labels label_replace() and label_join() read from. */
  readonly sourceLabels: ReadonlySet<string>;
  /** Labels label_replace() and label_join() write. */
  readonly derivedLabels: ReadonlySet<string>;
}

/** The arguments of the call whose `(` is at `open`, as token ranges. */
function callArguments(tokens: readonly Token[], open: number): Token[][] {
  const args: Token[][] = [[]];
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind === 'punct' && (t.text === '(' || t.text === '{' || t.text === '[')) {
      depth++;
      if (depth === 1) continue;
    }
    if (t.kind === 'punct' && (t.text === ')' || t.text === '}' || t.text === ']')) {
      depth--;
      if (depth === 0) return args;
    }
    if (depth === 1 && t.kind === 'punct' && t.text === ',') {
      args.push([]);
      continue;
    }
    args[args.length - 1]?.push(t);
  }
  throw new Error('unbalanced parentheses');
}

function stringArgument(args: readonly Token[][], index: number): string {
  const arg = args[index];
  const only = arg?.[0];
  if (arg?.length !== 1 || only?.kind !== 'string') {
    throw new Error(`argument ${index + 1} of a label function is not a string literal`);
  }
  return only.text;
}

export function namesIn(expr: string): ExpressionNames {
  const tokens = tokenize(expr);
  const metrics = new Map<string, Set<string>>();
  const groupingLabels = new Set<string>();
  const sourceLabels = new Set<string>();
  const derivedLabels = new Set<string>();
  const at = (i: number): Token | undefined => tokens[i];
  const isPunct = (i: number, text: string) => at(i)?.kind === 'punct' && at(i)?.text === text;

  /** Reads `{label op "value", ...}` from the `{` at i; returns the index after `}`. */
  const readMatchers = (i: number, labels: Set<string>): number => {
    let j = i + 1;
    while (!isPunct(j, '}')) {
      const t = at(j);
      if (t === undefined) throw new Error(`unclosed selector in: ${expr}`);
      if (t.kind === 'ident') labels.add(t.text);
      j += t.kind === 'ident' ? 3 : 1; // label, operator, value
    }
    return j + 1;
  };

  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i] as Token;
    if (t.kind === 'punct' && t.text === '[') {
      while (i < tokens.length && !isPunct(i, ']')) i++;
      i++;
      continue;
    }
    if (t.kind === 'punct' && t.text === '{') {
      i = readMatchers(i, new Set());
      continue;
    }
    if (t.kind !== 'ident') {
      i++;
      continue;
    }
    if (LABEL_LIST_KEYWORDS.has(t.text) && isPunct(i + 1, '(')) {
      let j = i + 2;
      while (!isPunct(j, ')')) {
        const label = at(j);
        if (label?.kind === 'ident') groupingLabels.add(label.text);
        j++;
      }
      i = j + 1;
      continue;
    }
    if (isPunct(i + 1, '(')) {
      if (t.text === 'label_replace' || t.text === 'label_join') {
        const args = callArguments(tokens, i + 1);
        derivedLabels.add(stringArgument(args, 1));
        const sources = t.text === 'label_replace' ? [3] : args.slice(3).map((_, k) => k + 3);
        for (const index of sources) sourceLabels.add(stringArgument(args, index));
      }
      i++;
      continue;
    }
    if (WORD_OPERATORS.has(t.text)) {
      i++;
      continue;
    }
    const labels = metrics.get(t.text) ?? new Set<string>();
    metrics.set(t.text, labels);
    i = isPunct(i + 1, '{') ? readMatchers(i + 1, labels) : i + 1;
  }
  return { metrics, groupingLabels, sourceLabels, derivedLabels };
}

/** The `{{label}}` names of a legend or annotation template. */
export function legendLabels(legend: string): string[] {
  return [...legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1] as string);
}
