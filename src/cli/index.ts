/**
 * The one-shot commands: check, preflight, catalog, firewall, help. main hands over
 * argv when it names a command; the command parses its own flags, writes its report
 * and returns the exit status. Bad input throws ConfigError, which main prints in one
 * line (exit 2). Each command's implementation is imported only when it runs.
 */
import {
  ConfigError,
  FLAGS,
  flagRows,
  HELP_FLAGS,
  lenientTokens,
  renderRows,
  wrap,
} from '../config/index.js';
import { CATALOG_COMMAND } from './catalog-command.js';
import { CHECK_COMMAND } from './check/command.js';
import { type Command, commandHelp, defineCommand } from './command.js';
import { FIREWALL_COMMAND } from './firewall-command.js';
import type { CommandIo } from './io.js';
import { PREFLIGHT_COMMAND } from './preflight/command.js';
import { PROGRAM, RUN } from './program.js';

export { EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK } from './exit.js';
export { type CommandIo, type OutputStream, processIo } from './io.js';

const HELP_COMMAND: Command = defineCommand({
  name: 'help',
  summary: 'Show the help of the program, or of one command: help COMMAND.',
  flags: HELP_FLAGS,
  positionals: { placeholder: 'COMMAND', max: 1 },
  help: {
    synopsis: ['help [COMMAND]'],
    description: 'The help of the program, or of one command (the same as COMMAND --help).',
    examples: [
      { command: `${RUN} help`, note: 'the exporter, its flags and the commands' },
      { command: `${RUN} help check`, note: "check's flags, examples and exit codes" },
    ],
    exitCodes: [
      [0, 'printed'],
      [2, 'no such command'],
    ],
    environment: [],
  },
  options: ({ positionals }) => positionals[positionals.indexOf('help') + 1],
  async run(name, io) {
    if (name === undefined) {
      io.stdout.write(globalHelp());
      return 0;
    }
    io.stdout.write(commandHelp(commandNamed(name)));
    return 0;
  },
});

/** Every command, in the order help lists them. */
export const COMMANDS: readonly Command[] = [
  CHECK_COMMAND,
  PREFLIGHT_COMMAND,
  CATALOG_COMMAND,
  FIREWALL_COMMAND,
  HELP_COMMAND,
];

function commandNamed(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (command) return command;
  const known = COMMANDS.map((c) => c.name).join(', ');
  throw new ConfigError(
    'FLAG_INVALID',
    `command: expected one of ${known}, got ${JSON.stringify(name)}`,
  );
}

/**
 * The command argv names, wherever it stands among the flags (`--log.level=warn
 * catalog`); undefined when none does and the exporter runs. Throws ConfigError for
 * a word that is no command.
 */
export function findCommand(argv: readonly string[]): Command | undefined {
  // Read with every flag any table knows, so a flag's value is not taken for a command.
  const tokens = lenientTokens([FLAGS, ...COMMANDS.map((c) => c.flags)], argv);
  const first = tokens.find((token) => token.kind === 'positional');
  return first === undefined ? undefined : commandNamed(first.value);
}

/** Runs the command argv names; resolves with the process's exit status. */
export function runCommand(
  command: Command,
  argv: readonly string[],
  io: CommandIo,
): Promise<number> {
  return command.execute(argv, io);
}

/** `--help` without a command: the exporter's usage and flags, and the commands. */
export function globalHelp(): string {
  const commands = renderRows(COMMANDS.map((c) => [c.name, c.summary] as const));
  return [
    `Usage: ${PROGRAM} [FLAGS]            run the exporter until stopped`,
    `       ${PROGRAM} COMMAND [FLAGS]    run one command; help COMMAND shows its flags`,
    '',
    wrap(
      'Probes the TCP ports SuperMap iManager needs on every node, and every NodePort, and exports the results as Prometheus metrics.',
      '',
    ),
    '',
    'Commands:',
    ...commands,
    '',
    'Flags of the exporter:',
    ...renderRows(flagRows(FLAGS)),
    '',
    'Examples:',
    `  ${RUN} --config.file=nodes.yml`,
    `  ${RUN} check --config.file=nodes.yml --failures-only`,
    `  ${RUN} help firewall`,
    '',
    'Exit status: 0 on a clean stop, 1 when the exporter cannot run, 2 on bad flags or config.',
    '',
    'Environment:',
    ...renderRows([
      ['KUBECONFIG', 'kubeconfig files for Kubernetes discovery, when --kubeconfig is not given'],
      ['NODE_NAME', 'the node this agent runs on, with --vantage=node'],
    ]),
    '',
  ].join('\n');
}
