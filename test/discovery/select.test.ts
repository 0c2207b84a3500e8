import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { kubernetesOptionsOf } from '../../src/discovery/select.js';

const FULL = join(dirname(fileURLToPath(import.meta.url)), '..', 'config', 'testdata', 'full.yml');

describe('kubernetesOptionsOf', () => {
  it('takes the UI NodePort and the role ports from the catalog after the file', async () => {
    const config = await loadConfig([`--config.file=${FULL}`]);
    const options = kubernetesOptionsOf(config);
    // From the catalog after `ports:`: the UI moved, the registry disabled.
    assert.equal(options.uiNodePort, 31200);
    assert.deepEqual(options.rolePorts, [
      { port: 3307, role: 'license-center' },
      { port: 9183, role: 'license-center' },
      { port: 2049, role: 'nfs-server' },
      { port: 5473, role: 'calico-typha' },
      { port: 111, role: 'nfs-server' },
    ]);
    // The rest is the file's and the flags' settings as they are.
    assert.deepEqual(
      { ...options, uiNodePort: undefined, rolePorts: undefined },
      {
        ...config.discovery.kubernetes,
        uiNodePort: undefined,
        rolePorts: undefined,
      },
    );
  });

  it('leaves both to their defaults when the catalog is unchanged', async () => {
    const config = await loadConfig([]);
    assert.deepEqual(kubernetesOptionsOf(config), config.discovery.kubernetes);
  });
});
