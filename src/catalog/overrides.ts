import { CATALOG } from './ports.js';
import type { CatalogEntry, Role, Scope } from './types.js';

/** What config may change about one catalog entry, keyed by its id. */
export interface EntryOverride {
  /** A new port number; only `default` entries (31100, 5000) may move. */
  readonly port?: number;
  /** False turns the entry optional: probed and shown, but never paging. */
  readonly required?: boolean;
  /** False removes the entry from every node. */
  readonly enabled?: boolean;
}

/** A port the user adds to the catalog. */
export interface CustomPort {
  readonly id: string;
  readonly port: number;
  readonly roles: readonly Role[] | 'all';
  readonly scope: Scope;
  readonly required: boolean;
  readonly component: string;
  readonly purpose: string;
}

export interface CatalogSettings {
  readonly overrides: Readonly<Record<string, EntryOverride>>;
  readonly custom: readonly CustomPort[];
}

export const NO_CATALOG_CHANGES: CatalogSettings = { overrides: {}, custom: [] };

/**
 * The catalog after config: default ports moved, entries made optional or removed,
 * custom ports added. Config validation has already checked ids and ports, so this
 * only combines.
 */
export function effectiveCatalog(settings: CatalogSettings): CatalogEntry[] {
  const entries: CatalogEntry[] = [];
  for (const entry of CATALOG) {
    const change = settings.overrides[entry.id];
    if (change?.enabled === false) continue;
    entries.push({
      ...entry,
      port: change?.port ?? entry.port,
      required: change?.required ?? entry.required,
    });
  }
  for (const custom of settings.custom) {
    entries.push({ ...custom, protocol: 'tcp', category: 'custom' });
  }
  return entries;
}
