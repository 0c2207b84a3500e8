/** Rewrites the README's generated tables: `npm run docs`. */
import { readFileSync, writeFileSync } from 'node:fs';
import { withBlocks } from './tables.js';

const path = new URL('../../README.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = withBlocks(before);
if (after !== before) writeFileSync(path, after);
process.stdout.write(after === before ? 'README.md is current\n' : 'wrote README.md\n');
