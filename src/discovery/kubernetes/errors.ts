/** Errors of Kubernetes discovery, and what a failed API call means to an operator. */

import { errorWithCode } from '../../util/errors.js';

export type DiscoveryErrorCode =
  /** `--discovery=kubernetes`, but no kubeconfig and no in-cluster service account. */
  | 'KUBECONFIG_NOT_FOUND'
  /** A kubeconfig that cannot be read or names no current cluster. */
  | 'KUBECONFIG_INVALID'
  /** An option out of range: a bad label selector, regex, role or duration. */
  | 'INVALID_OPTION';

export class DiscoveryError extends errorWithCode<DiscoveryErrorCode>('DiscoveryError') {}

/** The kinds of failure an operator acts on differently. */
export type ApiFailureKind =
  /** 401: the credentials are wrong or expired. */
  | 'unauthorized'
  /** 403: RBAC lacks a verb on a resource. */
  | 'forbidden'
  /** 410: the resourceVersion is too old; the informer relists by itself. */
  | 'gone'
  /** No answer in time. */
  | 'timeout'
  /** No connection: refused, reset, DNS, TLS. */
  | 'unreachable'
  /** Any other HTTP status. */
  | 'http'
  | 'other';

export interface ApiFailure {
  readonly kind: ApiFailureKind;
  /** The HTTP status, when there was a response. */
  readonly status?: number;
  /** A system error code such as ECONNREFUSED, when there was no response. */
  readonly errorCode?: string;
  /** One line: the API server's Status message when it sent one, else the error's. */
  readonly message: string;
}

interface ErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  /** ApiException: the HTTP status; FetchError and system errors: a string such as ECONNREFUSED. */
  readonly code?: unknown;
  /** Watch errors carry the HTTP status here. */
  readonly statusCode?: unknown;
  /** ApiException: the response body as text. */
  readonly body?: unknown;
  readonly cause?: unknown;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/** The Status message the API server put in an error body, if the body is a Status. */
function statusMessage(body: unknown): string | undefined {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (value && typeof value === 'object' && (value as { kind?: unknown }).kind === 'Status') {
    const message = (value as { message?: unknown }).message;
    return typeof message === 'string' && message !== '' ? message : undefined;
  }
  return undefined;
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

/**
 * What a failure of client-node means. It understands the three shapes 1.4 produces:
 * `ApiException` from list and get calls (numeric `code`, body as text), the watch's
 * `Error` with `statusCode`, and node-fetch errors (string `code`, or `AbortError`).
 */
export function describeApiError(error: unknown): ApiFailure {
  const err = (error && typeof error === 'object' ? error : {}) as ErrorLike;
  const rawMessage = typeof err.message === 'string' ? err.message : String(error);
  const status =
    typeof err.code === 'number'
      ? err.code
      : typeof err.statusCode === 'number'
        ? err.statusCode
        : undefined;
  if (status !== undefined) {
    const message = statusMessage(err.body) ?? firstLine(rawMessage);
    const kind: ApiFailureKind =
      status === 401
        ? 'unauthorized'
        : status === 403
          ? 'forbidden'
          : status === 410
            ? 'gone'
            : status === 504
              ? 'timeout'
              : 'http';
    return { kind, status, message };
  }
  if (err.name === 'AbortError' || err.name === 'TimeoutError') {
    return { kind: 'timeout', message: 'no answer from the API server in time' };
  }
  const cause = (err.cause && typeof err.cause === 'object' ? err.cause : {}) as ErrorLike;
  const errorCode =
    typeof err.code === 'string' ? err.code : typeof cause.code === 'string' ? cause.code : '';
  if (errorCode === 'ETIMEDOUT' || errorCode === 'ESOCKETTIMEDOUT') {
    return { kind: 'timeout', errorCode, message: firstLine(rawMessage) };
  }
  if (UNREACHABLE_CODES.has(errorCode) || err.name === 'FetchError') {
    return errorCode
      ? { kind: 'unreachable', errorCode, message: firstLine(rawMessage) }
      : { kind: 'unreachable', message: firstLine(rawMessage) };
  }
  return errorCode
    ? { kind: 'other', errorCode, message: firstLine(rawMessage) }
    : { kind: 'other', message: firstLine(rawMessage) };
}

/** The RBAC a resource needs: what an operator must grant, in kubectl's words. */
export interface ResourceRef {
  /**
   * Plural resource name as RBAC spells it: `nodes`, `services`, `endpointslices`; or a
   * non-resource URL such as `/version`.
   */
  readonly resource: string;
  /** API group; '' is the core group. */
  readonly group: string;
  /** Set when only one namespace is watched, or for an object of a namespace. */
  readonly namespace?: string;
  /** Set for one named object (a get). */
  readonly name?: string;
}

/**
 * The one log line for a 401 or 403: which verb on which resource was refused, and
 * what to grant. An operator fixes RBAC from this line alone.
 */
export function permissionMessage(
  verb: string,
  ref: ResourceRef,
  failure: ApiFailure,
): string | undefined {
  const where = ref.namespace ? ` in namespace "${ref.namespace}"` : ' at cluster scope';
  const nonResource = ref.resource.startsWith('/');
  const target = nonResource ? ref.resource : `${ref.resource} (API group "${ref.group}")${where}`;
  if (failure.kind === 'forbidden' && nonResource) {
    return (
      `Kubernetes discovery may not ${verb} ${target}: grant the exporter's service account ` +
      `${verb} on nonResourceURLs ${ref.resource} and ${ref.resource}/; retrying with backoff`
    );
  }
  if (failure.kind === 'forbidden') {
    return (
      `Kubernetes discovery may not ${verb} ${target}: grant the exporter's service account ` +
      `get, list and watch on ${ref.resource} in API group "${ref.group}"; retrying with backoff`
    );
  }
  if (failure.kind === 'unauthorized') {
    return (
      `Kubernetes discovery could not ${verb} ${target}: the API server rejected the ` +
      `credentials (401; expired token or wrong kubeconfig user); retrying with backoff`
    );
  }
  return undefined;
}

/**
 * The one line for an optional read that is forbidden (pods, namespaces, Calico's
 * DaemonSet): what is not detected, and the grant that turns it on. A warning, not an
 * error: discovery goes on without it, and every other part is as before.
 */
export function degradedMessage(verb: string, refs: readonly ResourceRef[], loss: string): string {
  const what = refs
    .map((ref) => {
      const where = ref.namespace ? ` in namespace "${ref.namespace}"` : ' at cluster scope';
      const name = ref.name === undefined ? '' : ` "${ref.name}"`;
      return `${ref.resource}${name} (API group "${ref.group}")${where}`;
    })
    .join(', ');
  const verbs = verb === 'get' ? 'get' : 'list and watch';
  return (
    `Kubernetes discovery may not ${verb} ${what}: ${loss} (degraded; everything else goes on). ` +
    `Grant the exporter's service account ${verbs} there, or leave it out of discovery.detect`
  );
}
