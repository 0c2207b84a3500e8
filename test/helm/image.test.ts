/**
 * The container image the chart runs. No Docker engine runs on this project's machines,
 * so the Dockerfile is checked two ways: its facts (base images, non-root user, the entry
 * point is package.json's bin, install scripts skipped and the addon rebuilt), and a
 * replay of its stages on this machine (same Node.js major, Debian, python3/make/g++ as
 * node:20-bookworm): the context .dockerignore leaves, the build stage's RUN steps as
 * written, the runtime stage's copies, and then the program started from the runtime
 * tree alone, as uid 65534, serving /metrics.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startDaemon } from '../e2e/daemon.js';
import { collect, REPO_ROOT, spawnWithDeadline } from '../helpers/node-child.js';
import {
  buildContext,
  copyArgs,
  hostPath,
  keptInContext,
  parseDockerfile,
  parseDockerignore,
  type ReplayedStage,
  replay,
  type Stage,
  stagesOf,
} from './dockerfile.js';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const stages = stagesOf(parseDockerfile(dockerfile));
const ignoreRules = parseDockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};

function runSteps(stage: Stage): string[] {
  return stage.instructions.filter((step) => step.keyword === 'RUN').map((step) => step.args);
}

function finalStage(): Stage {
  const stage = stages.at(-1);
  assert.ok(stage, 'the Dockerfile has stages');
  return stage;
}

function buildStage(): Stage {
  const stage = stages.find((candidate) => candidate.name === 'build');
  assert.ok(stage, 'a stage named build');
  return stage;
}

describe('Dockerfile', () => {
  it('builds in node:20-bookworm and runs in node:20-bookworm-slim', () => {
    assert.equal(stages.length, 2);
    assert.equal(buildStage().image, 'node:20-bookworm');
    assert.equal(finalStage().image, 'node:20-bookworm-slim');
  });

  it('installs with scripts off, rebuilds the raw-socket addon, builds, then drops dev dependencies', () => {
    const steps = runSteps(buildStage()).join(' && ');
    const order = [
      'npm ci --ignore-scripts',
      'npm rebuild raw-socket',
      'npm run build',
      'npm prune --omit=dev',
    ];
    const at = order.map((command) => steps.indexOf(command));
    assert.ok(
      at.every((position) => position >= 0),
      `every step present: ${steps}`,
    );
    assert.deepEqual(
      [...at].sort((a, b) => a - b),
      at,
      'in that order',
    );
  });

  it("runs as uid 65534, with package.json's bin as the entry point", () => {
    const stage = finalStage();
    const user = stage.instructions.filter((step) => step.keyword === 'USER').at(-1)?.args;
    assert.equal(user, '65534:65534');
    const workdir = stage.instructions.filter((step) => step.keyword === 'WORKDIR').at(-1)?.args;
    const entrypoint = stage.instructions.find((step) => step.keyword === 'ENTRYPOINT');
    assert.ok(entrypoint && workdir);
    assert.deepEqual(JSON.parse(entrypoint.args), [
      'node',
      posix.join(workdir, pkg.bin['imanager-port-exporter'] ?? 'missing bin'),
    ]);
  });

  it('copies into the runtime stage only from the build stage', () => {
    for (const step of finalStage().instructions.filter(
      (candidate) => candidate.keyword === 'COPY',
    )) {
      assert.equal(copyArgs(step).from, 'build', `line ${step.line}`);
    }
  });
});

describe('.dockerignore', () => {
  const cases: [string, boolean][] = [
    ['package.json', true],
    ['package-lock.json', true],
    ['tsconfig.build.json', true],
    ['src/main.ts', true],
    ['src/config/flags.ts', true],
    ['node_modules/express/package.json', false],
    ['dist/main.js', false],
    ['.git/HEAD', false],
    ['test/helm/chart.ts', false],
    ['helm/imanager-port-exporter/values.yaml', false],
    ['.tmp/x', false],
    ['README.md', false],
  ];
  for (const [path, kept] of cases) {
    it(`${kept ? 'keeps' : 'leaves out'} ${path}`, () => {
      assert.equal(keptInContext(ignoreRules, path), kept);
    });
  }
});

describe('the Dockerfile replayed on this machine', () => {
  let scratch: string;
  let image: ReplayedStage;
  const log: string[] = [];

  before(
    async () => {
      scratch = mkdtempSync(join(tmpdir(), 'ipe-image-'));
      // mkdtemp makes it 0700; the image's user must be able to reach its files.
      chmodSync(scratch, 0o755);
      const context = join(scratch, 'context');
      const kept = buildContext(REPO_ROOT, ignoreRules, context);
      assert.ok(kept.includes('src/main.ts'));
      const replayed = await replay(stages, {
        context,
        scratch,
        // This machine's npm cache is warm; the Dockerfile's own steps are unchanged.
        runEnv: { npm_config_prefer_offline: 'true' },
        log: (line) => log.push(line),
        runTimeoutMs: 400_000,
      });
      const last = replayed.at(-1);
      assert.ok(last);
      image = last;
    },
    { timeout: 900_000 },
  );

  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('the runtime stage has the program, production dependencies and the built addon, and no dev tools', () => {
    assert.ok(existsSync(hostPath(image, 'dist/main.js')), log.join('\n'));
    assert.ok(existsSync(hostPath(image, 'package.json')));
    assert.ok(existsSync(hostPath(image, 'node_modules/raw-socket/build/Release/raw.node')));
    for (const name of Object.keys(
      JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).dependencies,
    )) {
      assert.ok(existsSync(hostPath(image, `node_modules/${name}/package.json`)), name);
    }
    for (const devTool of ['typescript', 'tsx', '@biomejs/biome']) {
      assert.ok(!existsSync(hostPath(image, `node_modules/${devTool}`)), `${devTool} pruned`);
    }
    assert.ok(!existsSync(hostPath(image, 'src')), 'no sources in the image');
  });

  /** The entry point from the runtime tree, as the image's user where we can switch to it. */
  function entrypointArgv(args: readonly string[]): string[] {
    const [command, ...rest] = image.entrypoint ?? [];
    assert.equal(command, 'node');
    const program = rest.map((arg) => (arg.startsWith('/') ? join(image.root, arg) : arg));
    const [uid, gid] = (image.user ?? '').split(':');
    // As root, become the image's user; otherwise we are not root already.
    const asUser =
      process.getuid?.() === 0
        ? ['setpriv', `--reuid=${uid}`, `--regid=${gid ?? uid}`, '--clear-groups', '--']
        : [];
    return [...asUser, process.execPath, ...program, ...args];
  }

  it('prints its version from the runtime tree alone', async () => {
    const result = await collect(
      spawnWithDeadline(entrypointArgv(['--version']), { timeoutMs: 20_000 }),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(`^imanager-port-exporter ${pkg.version.replace(/\./g, '\\.')} `),
    );
  });

  it('runs as the image user, serves /metrics and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const daemon = await startDaemon(
      entrypointArgv([
        `--web.listen-address=127.0.0.1:${port}`,
        '--discovery=static',
        '--probe.icmp=off',
      ]),
      { ready: /"msg":"listening"/ },
    );
    try {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /^imanager_exporter_build_info\{/m);
    } finally {
      await daemon.stop();
    }
    assert.equal(daemon.child.exitCode, 0, daemon.log());
  });
});
