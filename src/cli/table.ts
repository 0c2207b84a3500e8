/**
 * Tables as the commands print them: aligned plain text for a terminal (with colour
 * only when asked), or Markdown. One model, two renderings, so a column added once
 * shows in both.
 */

/** What a cell means; the text renderer colours by it, and nothing else does. */
export type Tone = 'plain' | 'good' | 'bad' | 'warn' | 'dim';

export interface Cell {
  readonly text: string;
  readonly tone?: Tone;
}

export interface Column {
  readonly header: string;
  /** Numbers read best right-aligned. Default left. */
  readonly align?: 'left' | 'right';
}

export interface Table {
  /** A string is a left-aligned column with that header, as a string is a plain cell. */
  readonly columns: readonly (Column | string)[];
  readonly rows: readonly (readonly (Cell | string)[])[];
}

const ANSI: Readonly<Record<Tone, readonly [string, string]>> = {
  plain: ['', ''],
  good: ['\u001b[32m', '\u001b[39m'],
  bad: ['\u001b[1;31m', '\u001b[22;39m'],
  warn: ['\u001b[33m', '\u001b[39m'],
  dim: ['\u001b[2m', '\u001b[22m'],
};

/** Wraps text in the tone's ANSI codes when colour is on. */
export function paint(text: string, tone: Tone, colour: boolean): string {
  if (!colour || tone === 'plain' || text === '') return text;
  const [on, off] = ANSI[tone];
  return `${on}${text}${off}`;
}

function columnOf(value: Column | string): Column {
  return typeof value === 'string' ? { header: value } : value;
}

function cellOf(value: Cell | string | undefined): Cell {
  if (value === undefined) return { text: '' };
  return typeof value === 'string' ? { text: value } : value;
}

export interface TextTableOptions {
  /** ANSI colours by tone. */
  readonly colour: boolean;
  /** Put before every line, e.g. two spaces under a heading. */
  readonly indent?: string;
  /** The terminal's width: the last column (purpose, result) wraps to fit it. Default: no limit. */
  readonly width?: number;
}

/** The last column keeps at least this much room, however narrow the terminal. */
const MIN_LAST_COLUMN = 20;

/** Columns two spaces apart, headers in capitals, no trailing spaces. */
export function renderTextTable(table: Table, options: TextTableOptions): string {
  const columns = table.columns.map(columnOf);
  const indent = options.indent ?? '';
  const rows = table.rows.map((row) => columns.map((_, i) => cellOf(row[i])));
  const headers = columns.map((column) => ({ text: column.header.toUpperCase(), tone: 'dim' }));
  const widths = columns.map((_, i) =>
    Math.max(headers[i]?.text.length ?? 0, ...rows.map((row) => [...(row[i]?.text ?? '')].length)),
  );
  const last = columns.length - 1;
  const before = indent.length + widths.slice(0, last).reduce((sum, w) => sum + w + 2, 0);
  const room =
    options.width === undefined
      ? Number.POSITIVE_INFINITY
      : Math.max(MIN_LAST_COLUMN, options.width - before);
  const line = (cells: readonly Cell[]) => {
    const parts = cells.map((cell, i) => {
      const width = widths[i] ?? 0;
      const gap = ' '.repeat(Math.max(0, width - [...cell.text].length));
      const painted = paint(cell.text, cell.tone ?? 'plain', options.colour);
      return columns[i]?.align === 'right' ? gap + painted : painted + gap;
    });
    const lastCell = cells[last];
    if (lastCell === undefined || [...lastCell.text].length <= room) {
      return `${indent}${parts.join('  ')}`.trimEnd();
    }
    const [firstPart, ...more] = wrapWords(lastCell.text, room);
    const tone = lastCell.tone ?? 'plain';
    parts[last] = paint(firstPart ?? '', tone, options.colour);
    const hanging = ' '.repeat(before);
    return [
      `${indent}${parts.join('  ')}`.trimEnd(),
      ...more.map((text) => `${hanging}${paint(text, tone, options.colour)}`),
    ].join('\n');
  };
  return [line(headers as Cell[]), ...rows.map(line)].map((text) => `${text}\n`).join('');
}

/** Words into lines of at most `width` characters; a longer word is cut. */
function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/)) {
    let rest = word;
    while ([...rest].length > width) {
      if (current !== '') lines.push(current);
      lines.push([...rest].slice(0, width).join(''));
      rest = [...rest].slice(width).join('');
      current = '';
    }
    if (current === '') current = rest;
    else if ([...current].length + 1 + [...rest].length <= width) current += ` ${rest}`;
    else {
      lines.push(current);
      current = rest;
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

/** Escapes what would end a Markdown cell or start markup inside it. */
function markdownCell(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** A GitHub-flavoured Markdown table. */
export function renderMarkdownTable(table: Table): string {
  const columns = table.columns.map(columnOf);
  const header = `| ${columns.map((c) => markdownCell(c.header)).join(' | ')} |`;
  const rule = `| ${columns.map((c) => (c.align === 'right' ? '---:' : '---')).join(' | ')} |`;
  const rows = table.rows.map(
    (row) => `| ${columns.map((_, i) => markdownCell(cellOf(row[i]).text)).join(' | ')} |`,
  );
  return [header, rule, ...rows].map((text) => `${text}\n`).join('');
}
