/** The progress line of a one-shot command: drawn on a terminal only, with the reason it is slow. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createProgress } from '../../src/cli/progress.js';

function terminal(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (text: string) => void writes.push(text) } };
}

describe('createProgress', () => {
  test('draws the count, the label and the note, once per percent, and clears at the end', () => {
    const { writes, stream } = terminal(true);
    const progress = createProgress(stream, 200, 'ports probed');
    progress.update(1, () => '2 nodes held to about one rejected port a second');
    progress.update(1, () => 'not drawn: the same percent, just now');
    progress.update(2);
    progress.finish();
    assert.equal(writes.length, 3);
    assert.match(
      writes[0] ?? '',
      /1\/200 ports probed \(2 nodes held to about one rejected port a second\)/,
    );
    assert.ok((writes[1] ?? '').endsWith('2/200 ports probed\u001b[K'), writes[1]);
    assert.equal(writes[2], '\r\u001b[K');
  });

  test('writes nothing when stderr is not a terminal', () => {
    const { writes, stream } = terminal(false);
    const progress = createProgress(stream, 10, 'ports probed');
    progress.update(5, () => 'why');
    progress.finish();
    assert.deepEqual(writes, []);
  });
});
