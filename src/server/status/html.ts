/** Small text helpers of the status page: escaping, times, sizes. */

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

export function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}\u2026`;
}

export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function ms(seconds: number): string {
  const millis = seconds * 1000;
  return `${millis < 10 ? millis.toFixed(2) : millis.toFixed(0)} ms`;
}

/** "2025-01-01 12:00:00 UTC". */
export function absolute(atMs: number): string {
  return `${new Date(atMs).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Relative and absolute: "3 min ago 2025-01-01 12:00:00 UTC". */
export function when(atMs: number, nowMs: number): string {
  return `<time datetime="${new Date(atMs).toISOString()}">${ago(nowMs - atMs)}</time> <small>${absolute(atMs)}</small>`;
}

/** How long ago, to the unit that matters: "12 s ago", "5 min ago", "3 h 20 min ago", "2 d 4 h ago". */
export function ago(elapsedMs: number): string {
  const s = Math.floor(elapsedMs / 1000);
  if (s < 1) return 'just now';
  return `${duration(elapsedMs)} ago`;
}

/** "12 s", "5 min", "3 h 20 min", "2 d 4 h"; under a second "0 s". */
export function duration(elapsedMs: number): string {
  const s = Math.max(0, Math.floor(elapsedMs / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}
