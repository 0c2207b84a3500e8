/**
 * Checks rendered manifests against the Kubernetes API's own schemas, twice over:
 *
 * 1. kubernetes-models (and @kubernetes-models/prometheus-operator for the CRDs) compile
 *    the Kubernetes OpenAPI definitions into validators: every field of the right type,
 *    every required field there, int32 ranges and the like.
 * 2. Those schemas allow unknown fields, as the API server's non-strict decoding does, so
 *    a misspelt `hostNetwrok: true` would pass and be dropped silently by the cluster.
 *    The same packages ship TypeScript interfaces generated from the same definitions:
 *    assigning each manifest, as an object literal, to its interface makes TypeScript's
 *    excess-property check reject any field the API does not define, at any depth
 *    (what kubeconform's -strict does).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/node-child.js';
import type { Manifest } from './chart.js';

/** Where the model of each API group lives, by apiVersion. */
const MODEL_MODULES: Readonly<Record<string, string>> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'rbac.authorization.k8s.io/v1': 'kubernetes-models/rbac.authorization.k8s.io/v1',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
};

function modelModule(manifest: Manifest): string {
  const module = MODEL_MODULES[manifest.apiVersion];
  if (module === undefined) {
    throw new Error(`${describe(manifest)}: no schema known for apiVersion ${manifest.apiVersion}`);
  }
  return `${module}/${manifest.kind}`;
}

function describe(manifest: Manifest): string {
  return `${manifest.source} ${manifest.kind}/${manifest.metadata.name}`;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** Schema problems of one manifest, in the validator's words; empty when it is valid. */
export async function schemaProblems(manifest: Manifest): Promise<string[]> {
  const module = (await import(modelModule(manifest))) as Record<string, unknown>;
  const Model = module[manifest.kind] as ModelClass | undefined;
  if (typeof Model !== 'function')
    return [`${describe(manifest)}: ${modelModule(manifest)} has no ${manifest.kind}`];
  const { source: _source, ...object } = manifest;
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    const details = (error as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (!details) return [`${describe(manifest)}: ${String(error)}`];
    return details.map(
      (detail) => `${describe(manifest)}: ${detail.instancePath || '/'} ${detail.message ?? ''}`,
    );
  }
}

/**
 * Fields that the API does not define, anywhere in the manifests; empty when there are
 * none. One TypeScript program checks them all, so the interfaces are loaded once.
 */
export function unknownFields(manifests: readonly Manifest[]): string[] {
  // Under the repository, so `kubernetes-models` resolves from its node_modules.
  const dir = join(REPO_ROOT, '.tmp', `helm-strict-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const file = join(dir, 'manifests.ts');
    const lines = manifests.flatMap((manifest, i) => {
      const { source: _source, ...object } = manifest;
      return [
        `// ${describe(manifest)}`,
        `import type { I${manifest.kind} as T${i} } from '${modelModule(manifest)}';`,
        `export const m${i}: T${i} = ${JSON.stringify(object, null, 1)};`,
      ];
    });
    writeFileSync(file, `${lines.join('\n')}\n`);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
    });
    return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      if (!diagnostic.file || diagnostic.start === undefined) return message;
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      // Name the manifest: the comment line above its `export const`.
      const text = diagnostic.file.text.split('\n');
      let at = line;
      while (at > 0 && !text[at]?.startsWith('// ')) at--;
      return `${text[at]?.slice(3) ?? file}: ${message}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
