/**
 * Rules that span more than one field of the file, run once the schema has passed:
 * unique names, catalog ids that exist, ports that may move, ports that collide.
 * Discovery's own rules (selectors that parse, patterns that compile) are discovery's
 * to check: LoadOptions.checkFile, which config-load.ts passes.
 */
import { CATALOG } from '../catalog/ports.js';
import type { Role } from '../catalog/types.js';
import { formatPath, showValue } from './errors.js';
import type { ConfigIssue } from './issues.js';
import type { ConfigFile } from './schema.js';

const CATALOG_IDS = CATALOG.map((entry) => entry.id);
const MOVABLE = CATALOG.filter((entry) => entry.category === 'default').map((entry) => entry.id);

/** The first broken rule, or undefined when the file holds together. */
export function checkConfigFile(file: ConfigFile): ConfigIssue | undefined {
  return checkNodes(file) ?? checkOverrides(file) ?? checkCustomIds(file) ?? checkCollisions(file);
}

function checkNodes(file: ConfigFile): ConfigIssue | undefined {
  const seen = new Map<string, number>();
  for (const [i, node] of (file.nodes ?? []).entries()) {
    const first = seen.get(node.name);
    if (first !== undefined) {
      return {
        path: ['nodes', i, 'name'],
        message: `expected a unique node name, got ${showValue(node.name)} (${formatPath(['nodes', first])} has it too)`,
      };
    }
    seen.set(node.name, i);
  }
  return undefined;
}

function checkOverrides(file: ConfigFile): ConfigIssue | undefined {
  for (const [id, change] of Object.entries(file.ports ?? {})) {
    const entry = CATALOG.find((candidate) => candidate.id === id);
    if (!entry) {
      return {
        path: ['ports', id],
        message: `unknown catalog id, expected one of ${CATALOG_IDS.join(', ')}`,
      };
    }
    if (change.port !== undefined && entry.category !== 'default') {
      return {
        path: ['ports', id, 'port'],
        message: `expected no port for a fixed entry (${id} is always ${entry.port}; only ${MOVABLE.join(', ')} can move), got ${showValue(change.port)}`,
      };
    }
  }
  return undefined;
}

function checkCustomIds(file: ConfigFile): ConfigIssue | undefined {
  const seen = new Map<string, number>();
  for (const [i, custom] of (file.customPorts ?? []).entries()) {
    const path = ['customPorts', i, 'id'];
    if (CATALOG_IDS.includes(custom.id)) {
      return {
        path,
        message: `expected an id that is not a catalog id (override catalog entries under ports), got ${showValue(custom.id)}`,
      };
    }
    const first = seen.get(custom.id);
    if (first !== undefined) {
      return {
        path,
        message: `expected a unique id, got ${showValue(custom.id)} (${formatPath(['customPorts', first])} has it too)`,
      };
    }
    seen.set(custom.id, i);
  }
  return undefined;
}

/** A port as it will be probed, and where in the file it was set (when it was). */
interface PlacedPort {
  readonly id: string;
  readonly port: number;
  readonly roles: readonly Role[] | 'all';
  readonly path?: readonly PropertyKey[];
}

/**
 * Two enabled entries with one port number on nodes that share a role would be one
 * socket counted twice, and one of them is wrong. The catalog alone has no such pair,
 * so the later of the two always comes from the file, and the message points there.
 */
function checkCollisions(file: ConfigFile): ConfigIssue | undefined {
  const placed: PlacedPort[] = [];
  for (const entry of CATALOG) {
    const change = file.ports?.[entry.id];
    if (change?.enabled === false) continue;
    placed.push({
      id: entry.id,
      port: change?.port ?? entry.port,
      roles: entry.roles,
      ...(change?.port === undefined ? {} : { path: ['ports', entry.id, 'port'] }),
    });
  }
  for (const [i, custom] of (file.customPorts ?? []).entries()) {
    placed.push({ ...custom, path: ['customPorts', i, 'port'] });
  }
  // Ports set in the file go last, so the one named in the message is one the user wrote.
  placed.sort((a, b) => Number(a.path !== undefined) - Number(b.path !== undefined));
  for (const [i, later] of placed.entries()) {
    if (!later.path) continue;
    for (const earlier of placed.slice(0, i)) {
      if (earlier.port !== later.port) continue;
      const shared = sharedRoles(earlier.roles, later.roles);
      if (shared === undefined) continue;
      return {
        path: later.path,
        message: `expected a port no other entry uses on the same nodes, got ${later.port} (${earlier.id} uses it on ${shared})`,
      };
    }
  }
  return undefined;
}

/** The roles both entries listen on, in words, or undefined when they share none. */
function sharedRoles(a: readonly Role[] | 'all', b: readonly Role[] | 'all'): string | undefined {
  if (a === 'all' && b === 'all') return 'every node';
  const both = a === 'all' ? b : b === 'all' ? a : a.filter((role) => b.includes(role));
  if (both.length === 0) return undefined;
  return `${[...new Set(both)].join(', ')} nodes`;
}
