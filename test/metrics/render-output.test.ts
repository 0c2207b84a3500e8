import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutputReservation } from '../../src/metrics/render-output.js';

describe('OutputReservation', () => {
  it('hands out exactly the bytes asked for, zeroed', () => {
    const out = new OutputReservation().take(1000);
    assert.equal(out.byteLength, 1000);
    assert.equal(out.resizable, true);
    assert.equal(out.maxByteLength >= 1000, true);
    assert.deepEqual(new Uint8Array(out).filter((b) => b !== 0).length, 0);
  });

  it('keeps no committed bytes of a buffer given back, and its reservation for the next', () => {
    const output = new OutputReservation();
    const out = output.take(100_000);
    new Uint8Array(out).fill(7);
    assert.equal(output.spare, undefined, 'a buffer in use is not spare');
    output.giveBack(out);
    assert.deepEqual(output.spare, { committed: 0, reserved: out.maxByteLength });
    assert.equal(out.byteLength, 0);
    const next = output.take(90_000);
    assert.equal(next, out, 'the same reservation');
    assert.equal(next.byteLength, 90_000);
    assert.equal(
      new Uint8Array(next).every((b) => b === 0),
      true,
      'what the last render wrote is gone',
    );
    assert.equal(output.spare, undefined);
  });

  it('takes a new reservation when the spare is too small or more than twice too big', () => {
    const output = new OutputReservation();
    const small = output.take(1_000_000);
    output.giveBack(small);
    const bigger = output.take(small.maxByteLength + 1);
    assert.notEqual(bigger, small);
    output.giveBack(bigger);
    const tiny = output.take(Math.floor((bigger.maxByteLength - 65536) / 2) - 1000);
    assert.notEqual(tiny, bigger);
  });

  it('keeps one spare, and ignores a buffer that is not its own or was transferred away', () => {
    const output = new OutputReservation();
    const a = output.take(1000);
    const b = output.take(1000);
    output.giveBack(a);
    output.giveBack(b);
    assert.equal(output.take(1000), a);
    assert.equal(output.spare, undefined);
    const gone = output.take(1000);
    structuredClone(gone, { transfer: [gone] });
    output.giveBack(gone);
    assert.equal(output.spare, undefined);
    output.giveBack(new ArrayBuffer(10) as unknown as ReturnType<OutputReservation['take']>);
    assert.equal(output.spare, undefined);
  });
});
