/**
 * Bad input, generated: arbitrary text, arbitrary YAML values, configs with arbitrary
 * values in every field, mutated good files, and arbitrary argv. The loader returns a
 * valid config or throws a ConfigError whose one-line message names a field (or a
 * position, or a flag); it never throws anything else.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ROLES } from '../../src/catalog/types.js';
import { FLAGS, parseFlags } from '../../src/config/flags.js';
import { buildConfig, loadConfig, parseConfigText } from '../../src/config/load.js';
import { assertConfigError, expectResultOrFileError } from './outcome.js';

const SOURCE = 'test.yml';
const FULL = readFileSync(new URL('../config/testdata/full.yml', import.meta.url), 'utf8');

/** Each property runs in about a second here; enough runs to find the shallow bugs every time. */
const RUNS = { numRuns: 300, includeErrorInReport: true } as const;

function parses(text: string): 'ok' | 'error' {
  return expectResultOrFileError(
    () => {
      const file = parseConfigText(text, SOURCE);
      // What parsed must also join with the flags; a half-valid file must not get past here.
      buildConfig(parseFlags([`--config.file=${SOURCE}`]), file);
      assert.ok(Object.isFrozen(file), 'a parsed file is frozen');
    },
    SOURCE,
    text,
  );
}

// ---- arbitraries ----

/** Pieces YAML gives meaning to, so random text reaches the parser's corners, not just scalars. */
const YAML_TOKENS = [
  ':',
  ': ',
  '- ',
  '-',
  ' ',
  '  ',
  '\n',
  '\t',
  '[',
  ']',
  '{',
  '}',
  ',',
  '&a ',
  '*a',
  '&b ',
  '*b',
  '!!str ',
  '!!binary ',
  '!!map ',
  '!custom ',
  '<<: ',
  '#',
  '"',
  "'",
  '\\',
  '|',
  '>',
  '? ',
  '%YAML 1.2\n',
  '---\n',
  '...\n',
  '@',
  '`',
  '~',
  'null',
  'true',
  '0x1F',
  '1e400',
  '.inf',
  '-.nan',
  '65536',
  '30000-32767',
  'nodes',
  'name',
  'address',
  'roles',
  'ports',
  'port',
  'customPorts',
  'discovery',
  'groupRules',
  'roleRules',
  'selector',
  'namespacePattern',
  'relistInterval',
  'kubernetesVersion',
  'nodePortRange',
  '__proto__',
  'constructor',
  'worker',
  '127.0.0.1',
  '\u2028',
  '\u0085',
  '\ufeff',
  '\u0000',
  '日本',
  '🙂',
];

const yamlishText = fc
  .array(fc.oneof(fc.constantFrom(...YAML_TOKENS), fc.string({ maxLength: 4 })), {
    maxLength: 60,
  })
  .map((parts) => parts.join(''));

/** Mostly a valid value, now and then any value at all, so checks deep inside are reached too. */
function orAnything<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 12, arbitrary: valid },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );
}

/** One of the valid values mostly, one of the near misses sometimes. */
function pick<T>(valid: readonly T[], invalid: readonly T[]): fc.Arbitrary<T>;
function pick<T>(valid: readonly T[], invalid: readonly unknown[]): fc.Arbitrary<unknown>;
function pick<T>(valid: readonly T[], invalid: readonly unknown[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...valid) },
    { weight: 1, arbitrary: fc.constantFrom(...invalid) },
  );
}

const role = orAnything(pick(ROLES, ['master', '', 'Worker']));
const roles = orAnything(fc.array(role, { minLength: 1, maxLength: 3 }));
const port = orAnything(
  fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: 1024, max: 29999 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, -1, 65536, 70000, '80a', 1.5, 443) },
  ),
);
const address = orAnything(
  pick(['127.0.0.1', '::1', 'node-1.example'], ['10.0.0.256', '', ' x', 'a..b']),
);
const duration = orAnything(pick(['5m', '0s', '1h30m'], ['-1s', 'soon', '0', '9999999h']));
const selector = orAnything(
  pick(['a=b', 'a in (x,y)', '!a', 'k notin (v)'], ['a in (', '', 'a==b=c']),
);
const flag = orAnything(pick([true, false], ['yes', 1]));

const node = fc.record(
  {
    name: orAnything(pick(['master-1', 'w', 'node.example'], ['', ' x '])),
    address,
    roles,
  },
  { requiredKeys: ['name', 'address', 'roles'] },
);

const discovery = fc.record(
  {
    addressTypes: orAnything(
      fc.array(pick(['InternalIP', 'ExternalIP', 'Hostname'], ['InternalDNS']), {
        minLength: 1,
        maxLength: 3,
      }),
    ),
    roleRules: orAnything(fc.array(fc.record({ selector, roles }), { maxLength: 2 })),
    groupRules: orAnything(
      fc.array(
        fc.record(
          {
            group: orAnything(pick(['basic-service', 'gis-environment', 'other'], ['x'])),
            namespaces: orAnything(fc.array(pick(['imanager', 'gis-1'], ['A', '']))),
            namespacePattern: orAnything(pick(['^a', '.*', 'imanager-.+'], ['((', '['])),
            selector,
          },
          { requiredKeys: ['group'] },
        ),
        { maxLength: 2 },
      ),
    ),
    relistInterval: duration,
    requestTimeout: duration,
  },
  { requiredKeys: [] },
);

const shapedConfig = fc.record(
  {
    nodes: orAnything(fc.array(orAnything(node), { maxLength: 3 })),
    kubernetesVersion: orAnything(pick(['1.28', 'v1.22.3', '1.30.1'], ['1', 'x', 1.28])),
    nodePortRange: orAnything(
      fc.oneof(
        pick(['30000-32767', '1-65535', '30000-30000'], ['0-10', '9-8', 'a-b']),
        fc.record({ min: port, max: port }),
      ),
    ),
    ports: orAnything(
      fc.dictionary(
        pick(['imanager-ui', 'image-registry', 'nfs'], ['kube-apiserver', 'nope', '']),
        orAnything(fc.record({ port, required: flag, enabled: flag }, { requiredKeys: [] })),
        { maxKeys: 3 },
      ),
    ),
    customPorts: orAnything(
      fc.array(
        fc.record(
          {
            id: orAnything(pick(['gis', 'backup-agent'], ['kube-apiserver', 'A B', ''])),
            port,
            roles: orAnything(
              fc.oneof(fc.constant('all'), fc.array(role, { minLength: 1, maxLength: 2 })),
            ),
            scope: orAnything(pick(['internal', 'external'], ['both'])),
            required: flag,
            component: orAnything(fc.string({ maxLength: 5 })),
            purpose: orAnything(fc.string({ maxLength: 5 })),
          },
          { requiredKeys: ['id', 'port', 'roles'] },
        ),
        { maxLength: 3 },
      ),
    ),
    discovery: orAnything(discovery),
  },
  { requiredKeys: [] },
);

/** The good file, damaged: characters inserted, deleted or replaced at random places. */
const damagedFull = fc
  .array(
    fc.record({
      at: fc.nat({ max: FULL.length }),
      remove: fc.nat({ max: 8 }),
      insert: fc.oneof(fc.constantFrom(...YAML_TOKENS), fc.string({ maxLength: 3 })),
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((edits) => {
    let text = FULL;
    for (const { at, remove, insert } of edits) {
      const where = Math.min(at, text.length);
      text = text.slice(0, where) + insert + text.slice(where + remove);
    }
    return text;
  });

// ---- properties ----

describe('parseConfigText with arbitrary input', () => {
  it('takes any text: a config or one ConfigError line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        parses(text);
      }),
      RUNS,
    );
  });

  it('takes YAML-shaped text: a config or one ConfigError line', () => {
    fc.assert(
      fc.property(yamlishText, (text) => {
        parses(text);
      }),
      RUNS,
    );
  });

  it('takes any YAML value: a config or one ConfigError line', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        parses(stringify(value));
      }),
      RUNS,
    );
  });

  it('takes configs with arbitrary values in every field, and accepts the valid ones', () => {
    const outcomes = { ok: 0, error: 0 };
    fc.assert(
      fc.property(shapedConfig, (config) => {
        outcomes[parses(stringify(config))] += 1;
      }),
      { ...RUNS, numRuns: 500 },
    );
    // Otherwise the generator only ever made broken files and checked nothing valid.
    assert.ok(outcomes.ok > 0, `no valid config generated: ${JSON.stringify(outcomes)}`);
    assert.ok(outcomes.error > 0, `no invalid config generated: ${JSON.stringify(outcomes)}`);
  });

  it('takes the full example file with random damage', () => {
    fc.assert(
      fc.property(damagedFull, (text) => {
        parses(text);
      }),
      RUNS,
    );
  });
});

describe('parseConfigText warnings', () => {
  it('writes no Node warning for a collection used as a key: it is an unknown key', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      assert.throws(() => parseConfigText('? [nodes]\n: []\n', SOURCE), {
        message: /unknown key/,
      });
      // Node emits warnings on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.map((w) => w.message),
      [],
    );
  });
});

// ---- flags ----

const FLAG_NAMES = Object.keys(FLAGS);

const flagValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom(
    '15s',
    '2s',
    '0',
    '-1',
    '1e3',
    '256',
    '100001',
    ':19101',
    '[::1]:0',
    '0/1',
    '2/1',
  ),
);

const argument = fc.oneof(
  fc.tuple(fc.constantFrom(...FLAG_NAMES), flagValue).map(([name, value]) => `--${name}=${value}`),
  fc.constantFrom(...FLAG_NAMES).map((name) => `--${name}`),
  flagValue,
  fc.constantFrom('-h', '-x', '--', '-', '---', '--=x', 'check', 'catalog', 'nope'),
  fc.string({ unit: 'binary', maxLength: 10 }).map((text) => `--${text}`),
);

const argv = fc.array(argument, { maxLength: 6 });

/** Where a flag message says the problem is: a flag, a command, an argument. */
const FLAG_PROBLEM_AT =
  /^(?:--[\w.-]+: \S|-\w: \S|unknown flag \S|command: \S|unexpected argument \S)/;

describe('parseFlags and loadConfig with arbitrary argv', () => {
  it('parseFlags: flags or one FLAG_INVALID line naming the flag', () => {
    fc.assert(
      fc.property(argv, (args) => {
        try {
          parseFlags(args);
        } catch (error) {
          assertConfigError(error, args);
          assert.equal(error.code, 'FLAG_INVALID');
          assert.match(error.message, FLAG_PROBLEM_AT, JSON.stringify(args));
        }
      }),
      RUNS,
    );
  });

  it('loadConfig: a config or one ConfigError line, whatever the file and NODE_NAME hold', async () => {
    const fileText = fc.oneof(
      yamlishText,
      shapedConfig.map((c) => stringify(c)),
    );
    await fc.assert(
      fc.asyncProperty(
        argv,
        fileText,
        fc.option(fc.string({ maxLength: 20 })),
        fc.boolean(),
        async (args, text, nodeName, unreadable) => {
          const readFile = async (path: string) => {
            if (unreadable) {
              throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), {
                code: 'EACCES',
                syscall: 'open',
              });
            }
            return text;
          };
          const env = nodeName === null ? {} : { NODE_NAME: nodeName };
          try {
            const config = await loadConfig(args, { readFile, env });
            assert.ok(Object.isFrozen(config));
          } catch (error) {
            assertConfigError(error, { args, text, nodeName });
            if (error.code === 'FLAG_INVALID') assert.match(error.message, FLAG_PROBLEM_AT);
          }
        },
      ),
      RUNS,
    );
  });
});
