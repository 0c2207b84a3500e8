/**
 * The release workflow (.github/workflows/release.yml), read as data: it runs on a version
 * tag, builds the Dockerfile for amd64 and arm64, pushes, and pushes to exactly the
 * registry path the chart pulls by default, tagged with the version the chart runs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/node-child.js';
import { CHART_DIR } from './chart.js';

interface Step {
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, string | boolean>;
}

const workflow = parse(readFileSync(join(REPO_ROOT, '.github/workflows/release.yml'), 'utf8')) as {
  on: { push: { tags: string[] } };
  env: { REGISTRY: string; IMAGE_NAME: string };
  permissions: Record<string, string>;
  jobs: Record<string, { steps: Step[] }>;
};
const values = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as {
  image: { registry: string; repository: string; tag: string };
};
const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string };
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  scripts: Record<string, string>;
};
const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);

function buildPush(): Step {
  const step = steps.find((candidate) => candidate.uses?.startsWith('docker/build-push-action@'));
  assert.ok(step, 'a docker/build-push-action step');
  return step;
}

describe('release workflow', () => {
  it('runs on version tags, with the right to push packages and no more', () => {
    assert.deepEqual(workflow.on.push.tags, ['v*']);
    assert.deepEqual(workflow.permissions, { contents: 'read', packages: 'write' });
  });

  it('builds the Dockerfile for linux/amd64 and linux/arm64, and pushes', () => {
    const step = buildPush();
    assert.equal(step.with?.file, 'Dockerfile');
    assert.equal(step.with?.context, '.');
    assert.deepEqual(String(step.with?.platforms).split(','), ['linux/amd64', 'linux/arm64']);
    assert.equal(step.with?.push, true);
    assert.ok(steps.some((candidate) => candidate.uses?.startsWith('docker/setup-qemu-action@')));
  });

  it('pushes to the registry path the chart pulls by default', () => {
    assert.equal(workflow.env.REGISTRY, values.image.registry);
    assert.equal(workflow.env.IMAGE_NAME, values.image.repository);
    const tags = String(buildPush().with?.tags).trim().split('\n');
    // GitHub's expressions, written out: `${{ env.X }}` read with X from the workflow env.
    const expression = (name: string) => ['$', '{{ env.', name, ' }}'].join('');
    const image = `${expression('REGISTRY')}/${expression('IMAGE_NAME')}`;
    assert.deepEqual(tags, [
      `${image}:${expression('VERSION')}`,
      `${image}:${expression('VERSION')}-${expression('REVISION')}`,
    ]);
  });

  it('refuses a tag that is not the package version and the chart appVersion, which the chart runs', () => {
    const check = steps.find((step) => step.run?.includes('GITHUB_REF_NAME'));
    assert.ok(check?.run);
    assert.match(check.run, /require\("\.\/package\.json"\)\.version/);
    assert.match(check.run, /appVersion/);
    assert.equal(chart.appVersion, pkg.version);
    assert.equal(values.image.tag, '', 'the chart runs appVersion unless told otherwise');
  });

  it('npm run image and image:save are scripts/image.sh', () => {
    assert.equal(pkg.scripts.image, 'bash scripts/image.sh build');
    assert.equal(pkg.scripts['image:save'], 'bash scripts/image.sh save');
  });
});
