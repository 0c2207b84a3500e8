/**
 * The render thread's entry (render-thread.ts starts it): writes the per-target
 * families into an output of its own and sends it, with the bytes it wrote, by
 * transfer. It reads the store's label columns and the scrape's copy of the values in
 * place, shared memory all of it, so a request carries views, never the bytes. An
 * output that comes back is shrunk to nothing, its reservation kept for the next.
 */
import { parentPort } from 'node:worker_threads';
import { lowerThreadPriority } from '../util/thread-priority.js';
import { OutputReservation } from './render-output.js';
import type { RenderReply, ToRenderWorker } from './render-thread.js';
import { writeTargetFamilies } from './target-families.js';

const port = parentPort;
if (!port) throw new Error('render-worker.ts runs as a worker thread');
// A render may wait; a probe's connect time may not: the probe threads come first.
lowerThreadPriority();
const output = new OutputReservation();
port.on('message', (message: ToRenderWorker) => {
  if (message.kind === 'give-back') {
    output.giveBack(message.out);
    return;
  }
  let reply: RenderReply;
  let out: ReturnType<OutputReservation['take']> | undefined;
  try {
    out = output.take(message.capacity);
    const bytes = writeTargetFamilies(new Uint8Array(out), message.labels, message.values);
    reply = { id: message.id, bytes, out };
  } catch (err) {
    if (out) output.giveBack(out);
    out = undefined;
    reply = { id: message.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply, out ? [out] : []);
});
