/**
 * `catalog`: the port catalog after the config file's changes (moved, optional,
 * disabled and custom ports), as a table, JSON or Markdown. `--roles` narrows it to
 * the ports of those roles.
 */
import { entriesForRoles } from '../catalog/applies.js';
import { effectiveCatalog } from '../catalog/overrides.js';
import { CATALOG } from '../catalog/ports.js';
import type { CatalogEntry, PortRange, Role, VersionRange } from '../catalog/types.js';
import type { ExporterConfig } from '../config/index.js';
import type { CatalogCommandOptions } from './catalog-command.js';
import { EXIT_OK } from './exit.js';
import type { CommandIo } from './io.js';
import { renderMarkdownTable, renderTextTable, type Table } from './table.js';

/** One entry of `catalog --output=json`: the catalog entry, plus its default port when moved. */
export interface CatalogJsonEntry extends CatalogEntry {
  readonly defaultPort?: number;
}

export interface CatalogJson {
  /** The roles asked for, or every role. */
  readonly roles: readonly Role[] | 'all';
  readonly entries: readonly CatalogJsonEntry[];
  readonly nodePortRange: PortRange;
  readonly kubernetesVersion?: string;
}

/** The catalog as config leaves it, narrowed to `roles` when given. */
export function catalogView(
  config: Pick<ExporterConfig, 'catalog' | 'nodePortRange' | 'kubernetesVersion'>,
  roles: readonly Role[] | undefined,
): CatalogJson {
  const catalog = effectiveCatalog(config.catalog);
  const entries = roles === undefined ? catalog : entriesForRoles(catalog, roles);
  const defaults = new Map(CATALOG.map((entry) => [entry.id, entry.port]));
  return {
    roles: roles ?? 'all',
    entries: entries.map((entry) => {
      const defaultPort = defaults.get(entry.id);
      return defaultPort === undefined || defaultPort === entry.port
        ? entry
        : { ...entry, defaultPort };
    }),
    nodePortRange: config.nodePortRange,
    ...(config.kubernetesVersion !== undefined && {
      kubernetesVersion: config.kubernetesVersion,
    }),
  };
}

/** `< 1.23`, `>= 1.23`, `1.20 - 1.25`, or empty for every version. */
export function versionText(range: VersionRange | undefined): string {
  if (!range) return '';
  if (range.from !== undefined && range.until !== undefined) {
    return `>= ${range.from}, < ${range.until}`;
  }
  if (range.from !== undefined) return `>= ${range.from}`;
  if (range.until !== undefined) return `< ${range.until}`;
  return '';
}

function rangeText(range: PortRange): string {
  return range.min === range.max ? String(range.min) : `${range.min}-${range.max}`;
}

export function catalogTable(view: CatalogJson): Table {
  const rows = view.entries.map((entry) => [
    entry.defaultPort === undefined
      ? String(entry.port)
      : `${entry.port} (default ${entry.defaultPort})`,
    entry.id,
    entry.component,
    entry.category,
    entry.localhostOnly ? `${entry.scope}, localhost` : entry.scope,
    entry.roles === 'all' ? 'all' : entry.roles.join(', '),
    entry.required ? { text: 'yes' } : { text: 'no', tone: 'dim' as const },
    versionText(entry.kubernetes),
    entry.purpose,
  ]);
  rows.push([
    rangeText(view.nodePortRange),
    'nodeports',
    'kube-proxy',
    'nodeport',
    'external',
    'all',
    'yes',
    '',
    "NodePorts: iManager's basic services and GIS environments, allocated at random",
  ]);
  return {
    columns: [
      { header: 'port', align: 'right' },
      'id',
      'component',
      'category',
      'scope',
      'roles',
      'required',
      'kubernetes',
      'purpose',
    ],
    rows,
  };
}

export async function runCatalog(options: CatalogCommandOptions, io: CommandIo): Promise<number> {
  const view = catalogView(options.config, options.roles);
  switch (options.output) {
    case 'json':
      io.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      break;
    case 'markdown':
      io.stdout.write(renderMarkdownTable(catalogTable(view)));
      break;
    case 'table':
      // Colour adds nothing to a reference table; it stays plain on a terminal too.
      io.stdout.write(
        renderTextTable(catalogTable(view), {
          colour: false,
          ...(io.stdout.columns !== undefined && { width: io.stdout.columns }),
        }),
      );
      break;
  }
  return EXIT_OK;
}
