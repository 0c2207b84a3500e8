/**
 * What a one-shot command is: its flag table (composed from shared groups), its help,
 * and how the parsed flags become the one typed options object its run takes. Each
 * command declares this beside itself; the router (index.ts) only looks them up.
 */
import {
  ConfigError,
  type FlagTable,
  flagError,
  flagRows,
  type ParsedTable,
  parseTable,
  renderRows,
  wrap,
} from '../config/index.js';
import type { CommandIo } from './io.js';
import { PROGRAM } from './program.js';

export interface CommandHelp {
  /** Usage lines, without the program name: `check [FLAGS]`. */
  readonly synopsis: readonly string[];
  /** A few sentences: what it does, what it prints. */
  readonly description: string;
  readonly examples: readonly { readonly command: string; readonly note: string }[];
  readonly exitCodes: readonly (readonly [number, string])[];
  readonly environment: readonly (readonly [string, string])[];
}

export interface CommandSpec<T extends FlagTable, O> {
  readonly name: string;
  /** One line, for the global help's list of commands. */
  readonly summary: string;
  readonly flags: T;
  readonly help: CommandHelp;
  /** Flags the command cannot run without: name, and what `expected` says. */
  readonly required?: Readonly<Partial<Record<keyof T & string, string>>>;
  /** Positional arguments after the command's name: `help COMMAND`. Default none. */
  readonly positionals?: { readonly placeholder: string; readonly max: number };
  /** The typed options object; throws ConfigError on input that is wrong as a whole. */
  readonly options: (parsed: ParsedTable<T>, io: CommandIo) => O | Promise<O>;
  /** Loads the command's implementation (imported on use) and runs it; the exit status. */
  readonly run: (options: O, io: CommandIo) => Promise<number>;
}

/** A command with its types closed over: what the router holds. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly flags: FlagTable;
  readonly help: CommandHelp;
  /** Parses argv (which names the command) and runs it; `--help` prints the help instead. */
  execute(argv: readonly string[], io: CommandIo): Promise<number>;
}

export function defineCommand<T extends FlagTable, O>(spec: CommandSpec<T, O>): Command {
  const command: Command = {
    name: spec.name,
    summary: spec.summary,
    flags: spec.flags,
    help: spec.help,
    async execute(argv, io) {
      const parsed = parseTable(spec.flags, argv, spec.name);
      if ((parsed.values as Readonly<Record<string, unknown>>).help === true) {
        io.stdout.write(commandHelp(command));
        return 0;
      }
      const rest = parsed.positionals.slice(parsed.positionals.indexOf(spec.name) + 1);
      const max = spec.positionals?.max ?? 0;
      if (rest.length > max) {
        throw flagError(`${spec.name}: unexpected argument ${JSON.stringify(rest[max])}`);
      }
      checkRequired(spec, parsed.given);
      return spec.run(await spec.options(parsed, io), io);
    },
  };
  return command;
}

function checkRequired<T extends FlagTable, O>(
  spec: CommandSpec<T, O>,
  given: ReadonlySet<string>,
): void {
  if (given.has('roles') && given.has('role')) {
    throw flagError('--role: same as --roles, expected one of the two, got both');
  }
  for (const [name, expected] of Object.entries(spec.required ?? {})) {
    const present = given.has(name) || (name === 'roles' && given.has('role'));
    if (!present) {
      throw new ConfigError(
        'FLAG_INVALID',
        `--${name}: expected ${expected as string}, got nothing (see ${PROGRAM} help ${spec.name})`,
      );
    }
  }
}

/** `--help` of one command: synopsis, description, flags, examples, exit codes, environment. */
export function commandHelp(command: Command): string {
  const { help } = command;
  const usage = help.synopsis.map(
    (line, i) => `${i === 0 ? 'Usage: ' : '       '}${PROGRAM} ${line}`,
  );
  const lines = [
    ...usage,
    '',
    wrap(help.description, ''),
    '',
    'Flags:',
    ...renderRows(flagRows(command.flags)),
    '',
    'Examples:',
    ...help.examples.flatMap(({ command: line, note }) => [`  # ${note}`, `  ${line}`]),
    '',
    'Exit status:',
    ...renderRows(help.exitCodes.map(([code, meaning]) => [String(code), meaning] as const)),
  ];
  if (help.environment.length > 0) {
    lines.push('', 'Environment:', ...renderRows(help.environment));
  }
  return `${lines.join('\n')}\n`;
}

/** The exit statuses every command shares, for its help. */
export const EXIT_HELP = {
  ok: [0, 'every required port is as expected'] as const,
  failed: [1, 'a required port is not, or the command could not find out'] as const,
  badInput: [2, 'bad flags or config: one line on stderr names what is wrong'] as const,
};
