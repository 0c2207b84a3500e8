/**
 * The commands that need no cluster load no Kubernetes client: `catalog` and `firewall`
 * from the built program, with a module hook that records every package resolved.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

function run(args: readonly string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...args], { timeout: 60_000 }, (error, stdout) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
}

test('catalog and firewall do not load @kubernetes/client-node', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ipe-modules-'));
  const log = join(dir, 'resolved.txt');
  const hooks = join(dir, 'hooks.mjs');
  await writeFile(
    hooks,
    `import { appendFileSync } from 'node:fs';\n` +
      `export async function resolve(specifier, context, next) {\n` +
      `  appendFileSync(${JSON.stringify(log)}, specifier + '\\n');\n` +
      `  return next(specifier, context);\n` +
      `}\n`,
  );
  const register = join(dir, 'register.mjs');
  await writeFile(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
  );
  for (const command of [
    ['catalog', '--output=json'],
    ['firewall', '--roles=worker', '--format=nftables'],
  ]) {
    await writeFile(log, '');
    const result = await run(['--import', 'tsx', '--import', register, 'src/main.ts', ...command]);
    assert.equal(result.code, 0, command.join(' '));
    const resolved = await readFile(log, 'utf8');
    assert.ok(resolved.includes('./cli/index.js'), 'the hook saw the program load');
    assert.ok(
      !resolved.includes('@kubernetes/client-node'),
      `${command[0]} loaded the Kubernetes client`,
    );
  }
});
