/**
 * The vendor bundles of `npm run build` (scripts/bundle-vendor.mjs): each one file that
 * loads on its own, with a V8 code cache that V8 takes, exporting what its src/vendor
 * module re-exports, from the package itself. Built here from src/vendor, with the same
 * script the build runs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODULES = ['kubernetes-client', 'yaml', 'zod'] as const;

/** True when every require() of `specifier` in the minified text is inside a try block. */
function tryRequired(text: string, specifier: string): boolean {
  const call = `require("${specifier}")`;
  let at = text.indexOf(call);
  if (at < 0) return false;
  while (at >= 0) {
    const before = text.slice(Math.max(0, at - 60), at);
    if (!/try\{[^{}]*$/.test(before)) return false;
    at = text.indexOf(call, at + call.length);
  }
  return true;
}

describe('vendor bundles', () => {
  let dir: string;
  before(() => {
    // Inside the repository, so the bundler resolves the packages from its node_modules.
    dir = mkdtempSync(join(ROOT, '.tmp-vendor-'));
    const source = join(dir, 'src');
    cpSync(join(ROOT, 'src', 'vendor'), source, { recursive: true });
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--outDir',
        join(dir, 'vendor'),
        '--module',
        'nodenext',
        '--target',
        'es2022',
        '--skipLibCheck',
        ...[...MODULES, 'cached-bundle'].map((name) => join(source, `${name}.ts`)),
      ],
      { cwd: ROOT, stdio: 'pipe' },
    );
    execFileSync(
      process.execPath,
      [join(ROOT, 'scripts', 'bundle-vendor.mjs'), join(dir, 'vendor')],
      {
        cwd: ROOT,
        stdio: 'pipe',
      },
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('bundles every module of src/vendor, each with its code cache', () => {
    const built = readdirSync(join(dir, 'vendor'));
    for (const name of MODULES) {
      for (const file of [`${name}.js`, `${name}.cjs`, `${name}.cjs.v8cache`]) {
        assert.ok(built.includes(file), `${file} in ${built.join(', ')}`);
      }
    }
  });

  for (const name of MODULES) {
    it(`${name}: one file that requires only Node's own modules, behind a shim`, () => {
      const text = readFileSync(join(dir, 'vendor', `${name}.cjs`), 'utf8');
      // Static imports and require() calls; a minified string such as `from",type:"` is neither.
      const specifiers = [
        ...text.matchAll(/\bfrom\s*["']([@\w][\w./@-]*)["']/g),
        ...text.matchAll(/\brequire\(\s*["']([@\w][\w./@-]*)["']\s*\)/g),
      ].map((m) => m[1] ?? '');
      // Optional packages their users require inside try/catch (node-fetch's encoding,
      // ws's native helpers): absent, they fall back to JavaScript, as unbundled.
      const foreign = [
        ...new Set(specifiers.filter((s) => !isBuiltin(s) && !tryRequired(text, s))),
      ];
      assert.deepEqual(foreign, [], `${name}.cjs still requires ${foreign.join(', ')}`);
      const shim = readFileSync(join(dir, 'vendor', `${name}.js`), 'utf8');
      assert.deepEqual(
        [...shim.matchAll(/\bfrom\s*["']([^"']+)["']/g)].map((m) => m[1]),
        ['./cached-bundle.js'],
      );
    });

    it(`${name}: V8 takes the code cache the build wrote`, async () => {
      const { loadBundle } = (await import(
        pathToFileURL(join(dir, 'vendor', 'cached-bundle.js')).href
      )) as typeof import('../../src/vendor/cached-bundle.js');
      const loaded = loadBundle(pathToFileURL(join(dir, 'vendor', `${name}.cjs`)));
      assert.equal(loaded.cacheUsed, true);
      assert.ok(Object.keys(loaded.exports).length > 0);
    });

    it(`${name}: exports what src/vendor/${name}.ts does, the package's own values`, async () => {
      const bundled = (await import(
        pathToFileURL(join(dir, 'vendor', `${name}.js`)).href
      )) as Record<string, unknown>;
      const source = (await import(`../../src/vendor/${name}.js`)) as Record<string, unknown>;
      assert.deepEqual(Object.keys(bundled).sort(), Object.keys(source).sort());
      for (const key of Object.keys(source)) {
        assert.equal(typeof bundled[key], typeof source[key], `${name}: ${key}`);
      }
    });
  }

  it('the bundled client reads a kubeconfig and builds an API client', async () => {
    const { KubeConfig, CoreV1Api } = (await import(
      pathToFileURL(join(dir, 'vendor', 'kubernetes-client.js')).href
    )) as typeof import('../../src/vendor/kubernetes-client.js');
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    assert.equal(config.getCurrentCluster()?.server, 'https://127.0.0.1:6443');
    assert.ok(config.makeApiClient(CoreV1Api));
  });

  it('the bundled zod and yaml parse and validate as the packages do', async () => {
    const z = (await import(
      pathToFileURL(join(dir, 'vendor', 'zod.js')).href
    )) as typeof import('zod');
    const yaml = (await import(
      pathToFileURL(join(dir, 'vendor', 'yaml.js')).href
    )) as typeof import('yaml');
    const schema = z.object({ port: z.number().int().min(1).max(65535) });
    const document = yaml.parseDocument('port: 6443\n');
    assert.deepEqual(schema.parse(document.toJS()), { port: 6443 });
    assert.equal(schema.safeParse(yaml.parseDocument('port: 0\n').toJS()).success, false);
  });
  it('a cache V8 refuses (another build, another V8) is compiled past, not trusted', async () => {
    const { loadBundle } = (await import(
      pathToFileURL(join(dir, 'vendor', 'cached-bundle.js')).href
    )) as typeof import('../../src/vendor/cached-bundle.js');
    const bundle = join(dir, 'vendor', 'yaml.cjs');
    writeFileSync(`${bundle}.v8cache`, Buffer.from('not a code cache'));
    const loaded = loadBundle(pathToFileURL(bundle));
    assert.equal(loaded.cacheUsed, false);
    const { parseDocument } = loaded.exports as typeof import('yaml');
    assert.deepEqual(parseDocument('port: 6443\n').toJS(), { port: 6443 });
    rmSync(`${bundle}.v8cache`);
    assert.equal(loadBundle(pathToFileURL(bundle)).cacheUsed, false);
  });
});
