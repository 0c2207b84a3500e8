/**
 * The status page's query: `?node=`, `?group=`, `?page=` (what fails), `?nodes=` (the
 * node table). Anything the page cannot show is a StatusQueryError, answered with 400:
 * showing everything instead would be a silent mistake.
 */
import { PORT_GROUPS, type PortGroup } from './summary.js';

/** What the operator narrowed the page to (`/?node=worker-1&group=gis-environment`). */
export interface StatusFilter {
  readonly node?: string;
  readonly group?: PortGroup;
}

/** A request's filter and pages. */
export interface StatusQuery {
  readonly filter: StatusFilter;
  /** 1-based page of the list of what fails. */
  readonly failingPage: number;
  /** 1-based page of the node table, when the page aggregates. */
  readonly nodePage: number;
}

/** What was wrong with a query, in one line: the page answers 400 with it. */
export class StatusQueryError extends Error {
  readonly code = 'STATUS_BAD_QUERY';
  /** The valid values, for the page to list. */
  readonly valid: readonly string[];
  constructor(message: string, valid: readonly string[]) {
    super(message);
    this.name = 'StatusQueryError';
    this.valid = valid;
  }
}

/**
 * The query of a request. An unknown `group` (or a page that is not a positive integer)
 * throws a StatusQueryError: showing everything instead would be a silent mistake.
 * Empty values mean no filter; other parameters are ignored.
 */
export function queryFromParams(params: Readonly<Record<string, unknown>>): StatusQuery {
  const node = firstString(params.node);
  const group = firstString(params.group);
  if (group !== undefined && group !== '' && !PORT_GROUPS.includes(group as PortGroup)) {
    throw new StatusQueryError(
      `unknown group ${JSON.stringify(group)}: expected one of ${PORT_GROUPS.join(', ')}`,
      PORT_GROUPS,
    );
  }
  return {
    filter: {
      ...(node !== undefined && node !== '' && { node }),
      ...(group !== undefined && group !== '' && { group: group as PortGroup }),
    },
    failingPage: pageParam(params.page, 'page'),
    nodePage: pageParam(params.nodes, 'nodes'),
  };
}

function pageParam(value: unknown, name: string): number {
  const text = firstString(value);
  if (text === undefined || text === '') return 1;
  if (!/^[1-9][0-9]{0,5}$/.test(text)) {
    throw new StatusQueryError(
      `${name}=${JSON.stringify(text)}: expected a page number, 1 or more`,
      [],
    );
  }
  return Number(text);
}

function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}
