/**
 * Flag groups the commands share, beside the exporter's groups in config/flags.ts:
 * output format, colour, and the roles of the node a command is about.
 */
import { isIP } from 'node:net';
import { ROLES, type Role } from '../catalog/types.js';
import { BadValue, oneOf, valueFlag } from '../config/index.js';

/** How check, preflight and catalog print: an aligned table, JSON for scripts, or Markdown. */
export const OUTPUT_FORMATS = ['table', 'json', 'markdown'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const COLOR_MODES = ['auto', 'always', 'never'] as const;
export type ColorMode = (typeof COLOR_MODES)[number];

export const OUTPUT_FLAGS = {
  output: valueFlag({
    placeholder: 'FORMAT',
    default: 'table',
    help: `How the report prints: ${OUTPUT_FORMATS.join(', ')}.`,
    parse: oneOf<OutputFormat>(OUTPUT_FORMATS),
  }),
} as const;

export const COLOR_FLAGS = {
  color: valueFlag({
    placeholder: 'WHEN',
    default: 'auto',
    help: 'Colour in the table: auto (on a terminal, unless NO_COLOR or TERM=dumb; FORCE_COLOR forces it), always, never.',
    parse: oneOf<ColorMode>(COLOR_MODES),
  }),
} as const;

/** `worker,etcd`, or `all` for every role. */
export function roleList(text: string): Role[] {
  if (text.trim() === 'all') return [...ROLES];
  const names = text.split(',').map((name) => name.trim());
  if (!names.every((name) => (ROLES as readonly string[]).includes(name))) {
    throw new BadValue(`all, or a comma-separated list of roles, each one of ${ROLES.join(', ')}`);
  }
  return [...new Set(names as Role[])];
}

/** `--roles` and its alias `--role`; `rolesOf` reads the one given. */
export function roleFlags(help: string) {
  return {
    roles: valueFlag({
      placeholder: 'ROLES',
      help: `${help} Comma-separated (${ROLES.join(', ')}), or all.`,
      parse: roleList,
    }),
    role: valueFlag({ placeholder: 'ROLE', help: 'Same as --roles.', parse: roleList }),
  } as const;
}

/** `10.0.0.0/16` or `fd00::/64`, several comma-separated: kept as written, the firewalls read them. */
export function cidrList(text: string): string[] {
  const networks = text.split(',').map((part) => part.trim());
  for (const network of networks) {
    const match = /^([^/]+)\/(\d{1,3})$/.exec(network);
    const family = match ? isIP(match[1] ?? '') : 0;
    const bits = Number(match?.[2]);
    if (family === 0 || bits > (family === 4 ? 32 : 128)) {
      throw new BadValue('networks such as 10.0.0.0/16 or fd00::/64, comma-separated');
    }
  }
  return [...new Set(networks)];
}
