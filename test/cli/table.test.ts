/** The table model: what a column given as its header alone means to both renderings. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderMarkdownTable, renderTextTable, type Table } from '../../src/cli/table.js';

describe('table columns', () => {
  const spelled: Table = {
    columns: [{ header: 'port', align: 'right' }, { header: 'name' }],
    rows: [['6443', 'kube-apiserver']],
  };
  const short: Table = {
    columns: [{ header: 'port', align: 'right' }, 'name'],
    rows: spelled.rows,
  };

  test('a header alone is a left-aligned column, in text and in Markdown', () => {
    assert.equal(
      renderMarkdownTable(short),
      '| port | name |\n| ---: | --- |\n| 6443 | kube-apiserver |\n',
    );
    assert.equal(renderMarkdownTable(short), renderMarkdownTable(spelled));
    assert.equal(renderTextTable(short, { colour: false }), 'PORT  NAME\n6443  kube-apiserver\n');
    assert.equal(
      renderTextTable(short, { colour: true }),
      renderTextTable(spelled, { colour: true }),
    );
  });
});
