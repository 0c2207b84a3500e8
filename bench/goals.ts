/**
 * The goals of the benchmarks (issue 14) beside the figures of one run, met or missed.
 *
 *   node --import tsx bench/goals.ts --combine OUT.json [--load-start "1 5 15"] \
 *     [--load-end "1 5 15"] RUN.json...      # bench/run.sh: one file for the whole run
 *   node --import tsx bench/goals.ts RESULT.json [--write-readme]
 *
 * --combine writes one JSON object: when the run started and ended, the load average
 * at both ends, the machine, every run's own JSON under its name, and the goals table.
 * Given a combined file, it prints the table as Markdown; --write-readme puts it between
 * the `<!-- bench-goals -->` markers of README.md and bench/README.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const START = '<!-- bench-goals:start -->';
const END = '<!-- bench-goals:end -->';

type Runs = Readonly<Record<string, unknown>>;

export interface GoalRow {
  readonly goal: string;
  /** The figure as shown, or "not measured". */
  readonly figure: string;
  readonly met: boolean | null;
  /** Which run and field it comes from. */
  readonly source: string;
}

/** A field by path (`a.b.0.c`); undefined where any step is missing. */
function at(value: unknown, path: string): unknown {
  let current = value;
  for (const step of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[step];
  }
  return current;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

interface Check {
  readonly goal: string;
  readonly run: string;
  readonly path: string;
  readonly test: (value: number) => boolean;
  readonly show: (value: number) => string;
  /** Picks the value from the run when a path is not enough. */
  readonly pick?: (run: unknown) => number | undefined;
  readonly note?: (run: unknown) => string;
}

const ratio = (v: number) => `${v.toFixed(2)}x`;
const afterCyclesAt = (targets: number) => (run: unknown) =>
  (at(run, 'afterCycles') as { targets: number }[] | undefined)?.find(
    (r) => Math.abs(r.targets - targets) / targets < 0.05,
  );

const CHECKS: readonly Check[] = [
  ...[
    ['probe-throughput', '20,000'],
    ['probe-throughput-50k', '50,000'],
  ].flatMap(([run, size]): Check[] => [
    {
      goal: `engine at ${size} loopback targets >= 0.8x nmap -sT (median of per-round ratios)`,
      run: run as string,
      path: 'headline.overNmap',
      test: (v) => v >= 0.8,
      show: ratio,
      note: (r) =>
        `${at(r, 'headline.contender')}, ${at(r, 'headline.workers')} workers, ${at(r, 'settings.targets')} targets`,
    },
    {
      goal: `engine at ${size} >= 10x blackbox_exporter`,
      run: run as string,
      path: 'headline.overBlackbox',
      test: (v) => v >= 10,
      show: ratio,
    },
    {
      goal: `engine at ${size}: CPU per 1,000 probes <= 1.5x nmap's`,
      run: run as string,
      path: 'headline.cpuPerProbeOverNmap',
      test: (v) => v <= 1.5,
      show: ratio,
    },
  ]),
  {
    goal: 'check, 200 nodes x 100 NodePorts from the API double: whole process >= 0.5x nmap',
    run: 'check-scale',
    path: 'headline.checkOverNmap',
    test: (v) => v >= 0.5,
    show: ratio,
    note: (r) =>
      `${at(r, 'contenders.check.median.wallSeconds')} s against nmap's ${at(r, 'contenders.nmap.median.wallSeconds')} s, ${at(r, 'contenders.check.probesPerRound')} targets`,
  },
  {
    goal: 'with Kubernetes discovery of that world, every target has a series within 10 s',
    run: 'check-scale',
    path: 'headline.firstDataSeconds',
    test: (v) => v <= 10,
    show: (v) => `${v.toFixed(1)} s`,
  },
  {
    goal: 'steady state at 20,000 targets, 15 s interval, scrapes included: <= 12% of a core',
    run: 'steady-cpu',
    path: 'cpuShareOfOneCore',
    test: (v) => v <= 0.12,
    show: (v) => `${(v * 100).toFixed(1)}%`,
    note: (r) => `${at(r, 'probes')} probes in ${at(r, 'cycles')} cycles`,
  },
  {
    goal: '100,000 targets: every cycle within the interval',
    run: 'memory',
    path: '',
    // The longest cycle as a share of the run's own interval.
    pick: (r) => {
      const row = afterCyclesAt(100_000)(r) as
        | { cycleSeconds?: number[]; intervalSeconds?: number }
        | undefined;
      const interval = num(row?.intervalSeconds);
      if (!row?.cycleSeconds || row.cycleSeconds.length === 0 || interval === undefined) {
        return undefined;
      }
      return Math.max(...row.cycleSeconds) / interval;
    },
    test: (v) => v <= 1,
    show: (v) => `longest cycle ${(v * 100).toFixed(0)}% of the interval`,
  },
  {
    goal: '100,000 targets: RSS <= 400 MB after 3 cycles',
    run: 'memory',
    path: '',
    pick: (r) => num((afterCyclesAt(100_000)(r) as { rssMB?: number } | undefined)?.rssMB),
    test: (v) => v <= 400,
    show: (v) => `${v.toFixed(0)} MB`,
  },
  {
    goal: 'churn (100 targets replaced a second): RSS within 10%, medians of the first and last minute',
    run: 'memory',
    path: 'churn.growth',
    test: (v) => Math.abs(v) <= 0.1,
    show: (v) => `${(v * 100).toFixed(1)}%`,
    note: (r) =>
      `${at(r, 'churn.firstWindowMedianRssMB')} -> ${at(r, 'churn.lastWindowMedianRssMB')} MB over ${at(r, 'churn.seconds')} s at ${at(r, 'churn.targets')} targets, after ${at(r, 'churn.warmSeconds')} s of churn to warm up`,
  },
  {
    goal: 'a churn event at 20,000 targets costs <= 20 ms of loop time (median)',
    run: 'memory',
    path: 'churn.replans.medianMs',
    test: (v) => v <= 20,
    show: (v) => `${v.toFixed(1)} ms`,
    note: (r) => `max ${at(r, 'churn.replans.maxMs')} ms, at ${at(r, 'churn.targets')} targets`,
  },
];

export function goalRows(runs: Runs): GoalRow[] {
  return CHECKS.map((check) => {
    const run = runs[check.run];
    const value = check.pick ? check.pick(run) : num(at(run, check.path));
    const met = value === undefined ? null : check.test(value);
    const note = value !== undefined && check.note ? ` (${check.note(run)})` : '';
    return {
      goal: check.goal,
      figure: value === undefined ? 'not measured' : `${check.show(value)}${note}`,
      met,
      source: `${check.run}${check.path ? `: ${check.path}` : ''}`,
    };
  });
}

export function goalsMarkdown(rows: readonly GoalRow[], header: string): string {
  const lines = [
    header,
    '',
    '| goal | figure | |',
    '| --- | --- | --- |',
    ...rows.map(
      (r) => `| ${r.goal} | ${r.figure} | ${r.met === null ? '-' : r.met ? 'met' : 'missed'} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

function loadTriple(text: string | undefined): number[] | null {
  if (text === undefined) return null;
  const values = text.trim().split(/\s+/).slice(0, 3).map(Number);
  return values.length === 3 && values.every(Number.isFinite) ? values : null;
}

function headerOf(result: Record<string, unknown>, file: string): string {
  const start = (at(result, 'loadAverage.start') as number[] | null) ?? null;
  const end = (at(result, 'loadAverage.end') as number[] | null) ?? null;
  const machine = at(result, 'machine') as { nproc?: number; cpuModel?: string } | undefined;
  return (
    `From \`bench/results/${basename(file)}\` (${at(result, 'startedAt')} to ${at(result, 'finishedAt')}, ` +
    `${machine?.nproc ?? '?'} cores, ${machine?.cpuModel ?? 'unknown CPU'}; load average ` +
    `${start ? start.join(' ') : '?'} at the start, ${end ? end.join(' ') : '?'} at the end):`
  );
}

function writeReadme(path: string, block: string): void {
  const text = readFileSync(path, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${path}: no ${START} ... ${END} markers`);
  writeFileSync(path, `${text.slice(0, from + START.length)}\n${block}${text.slice(to)}`);
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      combine: { type: 'string' },
      'load-start': { type: 'string' },
      'load-end': { type: 'string' },
      'started-at': { type: 'string' },
      'write-readme': { type: 'boolean', default: false },
    },
  });
  if (values.combine !== undefined) {
    const runs: Record<string, unknown> = {};
    for (const file of positionals) {
      runs[basename(file).replace(/\.tmp\.json$|\.json$/, '')] = JSON.parse(
        readFileSync(file, 'utf8'),
      );
    }
    // The machine, from the first run that records it (connect-latency does not).
    const first = (Object.values(runs) as { machine?: unknown }[]).find(
      (run) => run?.machine !== undefined,
    );
    const rows = goalRows(runs);
    const result = {
      startedAt: values['started-at'] ?? null,
      finishedAt: new Date().toISOString(),
      loadAverage: { start: loadTriple(values['load-start']), end: loadTriple(values['load-end']) },
      machine: first?.machine ?? null,
      goals: rows,
      runs,
    };
    writeFileSync(values.combine, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(goalsMarkdown(rows, headerOf(result, values.combine)));
    return;
  }
  const [file] = positionals;
  if (file === undefined) {
    process.stderr.write('goals: usage: goals.ts RESULT.json [--write-readme]\n');
    process.exit(2);
  }
  const result = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const rows = goalRows((result.runs ?? {}) as Runs);
  const block = goalsMarkdown(rows, headerOf(result, file));
  process.stdout.write(block);
  if (values['write-readme']) {
    writeReadme(join(REPO_ROOT, 'README.md'), block);
    writeReadme(join(REPO_ROOT, 'bench', 'README.md'), block);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
