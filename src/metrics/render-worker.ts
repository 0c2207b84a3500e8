/**
 * The render thread's entry (render-thread.ts starts it): writes the per-target
 * families into the scrape's shared output buffer and says how many bytes it wrote.
 * It reads the store's label columns and the scrape's copy of the values in place,
 * shared memory all of it, so a message carries views, never the bytes.
 */
import { parentPort } from 'node:worker_threads';
import type { RenderReply, RenderRequest } from './render-thread.js';
import { writeTargetFamilies } from './target-families.js';

const port = parentPort;
if (!port) throw new Error('render-worker.ts runs as a worker thread');
port.on('message', (request: RenderRequest) => {
  let reply: RenderReply;
  try {
    reply = {
      id: request.id,
      bytes: writeTargetFamilies(request.out, request.labels, request.values),
    };
  } catch (err) {
    reply = { id: request.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
