/**
 * Writes alerts/imanager-ports.rules.yml, alerts/alertmanager.yml and dashboards/*.json
 * from config.ts, and brings the generated tables of alerts/runbook.md and README.md up
 * to date.
 *
 *   npx tsx scripts/monitoring/generate.ts [--config overrides.json] [--out dir]
 *
 * `--config` lays a JSON object over DEFAULT_CONFIG; `--out` writes the rules, the inhibit
 * rules and the dashboards under another directory instead of the repository (the
 * committed files stay the defaults', and the documents are left alone).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, type MonitoringOverrides, withOverrides } from './config.js';
import { renderDocs } from './docs.js';
import { renderAll } from './render.js';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const { values } = parseArgs({
  options: { config: { type: 'string' }, out: { type: 'string' } },
  strict: true,
});

const config =
  values.config === undefined
    ? DEFAULT_CONFIG
    : withOverrides(JSON.parse(readFileSync(values.config, 'utf8')) as MonitoringOverrides);
const root = values.out === undefined ? repositoryRoot : resolve(values.out);

const files = new Map(renderAll(config));
if (values.out === undefined) {
  for (const [path, text] of renderDocs(config, (p) => readFileSync(join(root, p), 'utf8'))) {
    files.set(path, text);
  }
}
for (const [path, text] of files) {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  process.stdout.write(`wrote ${file}\n`);
}
