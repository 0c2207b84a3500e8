/**
 * The container image the chart runs, checked three ways:
 *
 * 1. Its facts: base images pinned by digest with their tag, the non-root user, the entry
 *    point is package.json's bin, install scripts skipped and both addons built.
 * 2. `npm run image` with the builder this machine has (scripts/ensure-tools.sh installs
 *    buildah from Debian): a real build where the pinned base images can be pulled. This
 *    project's machines reach no image registry, so here the builder stops at the first
 *    FROM; the test asserts it stopped there and nowhere else, says so, and checks the
 *    build context instead.
 * 3. A replay of its stages on this machine (same Node.js major, Debian, python3/make/g++
 *    as node:20-bookworm): the context .dockerignore leaves, the build stage's RUN steps
 *    as written, the runtime stage's copies, and then the program started from the
 *    runtime tree alone, as uid 65534 with no capability, serving /metrics, and pinging
 *    a node over an ICMP datagram socket in a namespace whose ping_group_range allows it.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { freePort, startDaemon } from '../e2e/daemon.js';
import { createNetns } from '../helpers/netns.js';
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

/** `docker.io/library/node:TAG@sha256:DIGEST`: the tag for people, the digest for the builder. */
const PINNED = /^docker\.io\/library\/(node:[-.\w]+)@sha256:[0-9a-f]{64}$/;

describe('Dockerfile', () => {
  it('builds in node:20-bookworm and runs in node:20-bookworm-slim, both pinned by digest', () => {
    assert.equal(stages.length, 2);
    assert.match(buildStage().image, PINNED);
    assert.match(finalStage().image, PINNED);
    assert.equal(PINNED.exec(buildStage().image)?.[1], 'node:20-bookworm');
    assert.equal(PINNED.exec(finalStage().image)?.[1], 'node:20-bookworm-slim');
  });

  it('names the tag of each pin in the comment above it, and says how to refresh the pins', () => {
    const lines = dockerfile.split('\n');
    for (const stage of [buildStage(), finalStage()]) {
      const at = lines.findIndex((line) => line.startsWith('ARG ') && line.endsWith(stage.image));
      assert.ok(at > 0, `an ARG line holds ${stage.image}`);
      assert.equal(lines[at - 1], `# ${PINNED.exec(stage.image)?.[1]}`);
    }
    assert.match(dockerfile, /docker buildx imagetools inspect/);
    assert.match(dockerfile, /crane digest/);
  });

  it('installs with scripts off, builds both addons, builds, then drops dev dependencies', () => {
    const steps = runSteps(buildStage()).join(' && ');
    const order = [
      'npm ci --ignore-scripts',
      'npm rebuild raw-socket',
      'node-gyp.js" rebuild',
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
    ['binding.gyp', true],
    ['native/icmp_dgram.c', true],
    ['build/Release/icmp_dgram.node', false],
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
    assert.ok(existsSync(hostPath(image, 'build/Release/icmp_dgram.node')));
    assert.ok(!existsSync(hostPath(image, 'native')), 'no addon sources in the image');
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

  it("the runtime tree's vendor bundles load with the code cache its own Node.js wrote", async () => {
    const vendor = hostPath(image, 'dist/vendor');
    const { loadBundle } = (await import(
      pathToFileURL(join(vendor, 'cached-bundle.js')).href
    )) as typeof import('../../src/vendor/cached-bundle.js');
    const bundles = readdirSync(vendor).filter((name) => name.endsWith('.cjs'));
    assert.deepEqual(bundles.sort(), ['kubernetes-client.cjs', 'yaml.cjs', 'zod.cjs']);
    for (const name of bundles) {
      assert.equal(loadBundle(pathToFileURL(join(vendor, name))).cacheUsed, true, name);
    }
  });

  /** The entry point from the runtime tree, as the image's user where we can switch to it. */
  function entrypointArgv(args: readonly string[]): string[] {
    const [command, ...rest] = image.entrypoint ?? [];
    assert.equal(command, 'node');
    const program = rest.map((arg) => (arg.startsWith('/') ? join(image.root, arg) : arg));
    const [uid, gid] = (image.user ?? '').split(':');
    // As root, become the image's user with no capability, as a container runtime
    // would start it under the chart (every capability dropped); otherwise we are not
    // root already.
    const asUser =
      process.getuid?.() === 0
        ? [
            'setpriv',
            `--reuid=${uid}`,
            `--regid=${gid ?? uid}`,
            '--clear-groups',
            '--inh-caps=-all',
            '--bounding-set=-all',
            '--no-new-privs',
            '--',
          ]
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

  it('as nobody with no capability, in a namespace whose ping_group_range allows it: ICMP datagram mode, imanager_icmp_enabled 1 and a node’s echo', async (t) => {
    assert.equal(process.getuid?.(), 0, 'this test makes a network namespace: run it as root');
    const ns = await createNetns('image-icmp');
    t.after(() => ns.close());
    // A node address that exists only in this namespace; the group range the chart sets.
    await ns.exec('ip', ['addr', 'add', '198.18.0.30/32', 'dev', 'lo']);
    const [, gid] = (image.user ?? '').split(':');
    await ns.exec('sysctl', ['-q', '-w', `net.ipv4.ping_group_range=${gid} ${gid}`]);
    const configFile = join(scratch, 'icmp-node.yml');
    writeFileSync(
      configFile,
      'nodes:\n  - name: node-1\n    address: 198.18.0.30\n    roles: [worker]\n',
    );
    chmodSync(configFile, 0o644);
    const port = 19101;
    const daemon = await startDaemon(
      [
        'ip',
        'netns',
        'exec',
        ns.name,
        ...entrypointArgv([
          `--web.listen-address=127.0.0.1:${port}`,
          '--discovery=static',
          `--config.file=${configFile}`,
          '--probe.icmp=on',
          '--probe.interval=1s',
          '--probe.timeout=500ms',
        ]),
      ],
      { ready: /"msg":"listening"/ },
    );
    try {
      // Read /metrics from inside the namespace until the node's echo is recorded.
      const { stdout } = await ns.exec(process.execPath, [
        '-e',
        `const deadline = Date.now() + 20000;
        (async () => {
          for (;;) {
            const text = await fetch('http://127.0.0.1:${port}/metrics').then((r) => r.text(), () => '');
            if (/^imanager_node_icmp_up{[^}]*node="node-1"[^}]*} 1$/m.test(text) || Date.now() > deadline) {
              process.stdout.write(text);
              return;
            }
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        })();`,
      ]);
      assert.match(stdout, /^imanager_icmp_enabled 1$/m);
      assert.match(stdout, /^imanager_node_icmp_up\{[^}]*node="node-1"[^}]*\} 1$/m, daemon.log());
      const rtt = /^imanager_node_icmp_rtt_seconds\{[^}]*node="node-1"[^}]*\} (\S+)$/m.exec(stdout);
      assert.ok(rtt && Number(rtt[1]) > 0, `a round trip: ${rtt?.[1]}`);
      // The one line that says which socket it got.
      const icmpLine = daemon
        .log()
        .split('\n')
        .find((line) => line.includes('"msg":"ICMP probing enabled"'));
      assert.match(icmpLine ?? daemon.log(), /"socket":"datagram"/);
    } finally {
      await daemon.stop();
    }
  });
});

describe('npm run image, with the builder this machine has', () => {
  it('builds the image for real, or stops only where the pinned base image cannot be pulled, and then the build context holds exactly what the Dockerfile copies', async (t) => {
    const which = await collect(
      spawnWithDeadline(['bash', join(REPO_ROOT, 'scripts', 'image.sh'), 'builder']),
    );
    assert.equal(
      which.code,
      0,
      `no OCI builder here; scripts/ensure-tools.sh installs buildah from Debian: ${which.stderr}`,
    );
    const builder = which.stdout.trim();
    const build = await collect(
      spawnWithDeadline(['npm', 'run', '--silent', 'image'], { timeoutMs: 900_000 }),
    );
    const output = build.stdout + build.stderr;
    if (build.code === 0) {
      const inspect = await collect(
        spawnWithDeadline(
          builder === 'buildah'
            ? ['buildah', 'inspect', '--type', 'image', `imanager-port-exporter:${pkg.version}`]
            : [builder, 'image', 'inspect', `imanager-port-exporter:${pkg.version}`],
        ),
      );
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.match(inspect.stdout, /"User": "65534:65534"/);
      assert.match(inspect.stdout, /\/app\/dist\/main\.js/);
      return;
    }
    // Anything but the first pull failing is a broken build.
    const firstFrom = buildStage().image;
    const digest = firstFrom.slice(firstFrom.indexOf('@') + 1);
    assert.ok(
      output.includes(digest) && /pull|registry|no such host|dial tcp/i.test(output),
      `npm run image failed, and not at pulling ${firstFrom}:\n${output}`,
    );
    assert.ok(!/STEP 2\//.test(output), `the build got past FROM and failed later:\n${output}`);
    t.diagnostic(
      `npm run image could not build here: ${builder} cannot pull ${firstFrom} (no image registry is reachable from this machine); the build context is checked instead`,
    );
    const context = mkdtempSync(join(tmpdir(), 'ipe-context-'));
    try {
      const kept = buildContext(REPO_ROOT, ignoreRules, context);
      const sources = stages
        .flatMap((stage) => stage.instructions)
        .filter((step) => step.keyword === 'COPY' && copyArgs(step).from === undefined)
        .flatMap((step) => copyArgs(step).sources);
      for (const source of sources) {
        assert.ok(
          kept.some((path) => path === source || path.startsWith(`${source}/`)),
          `the build context holds ${source}`,
        );
      }
      for (const path of kept) {
        assert.ok(
          sources.some((source) => path === source || path.startsWith(`${source}/`)),
          `${path} is in the build context but no COPY takes it`,
        );
      }
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  });
});
