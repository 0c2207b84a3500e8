/**
 * A worker thread running one of this package's modules. Compiled, the module is the
 * `.js` file beside the caller. Run from source under tsx (tests), Node 20 does not
 * apply `--import tsx` to workers, so the worker registers tsx itself before it
 * imports the `.ts` module.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `besideUrl` is the caller's import.meta.url; `name` the module's file name without extension. */
export function startModuleWorker(besideUrl: string, name: string, options: WorkerOptions): Worker {
  if (!besideUrl.endsWith('.ts')) {
    return new Worker(new URL(`./${name}.js`, besideUrl), options);
  }
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL(`./${name}.ts`, besideUrl).href;
  const code =
    `import(${JSON.stringify(tsx)})` +
    `.then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { ...options, eval: true });
}
