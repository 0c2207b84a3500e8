/**
 * How the program is called. The package's bin is `imanager-port-exporter`; from a clone
 * (after `npm ci`) `npx` finds it, and a global install or the container puts it on PATH.
 * Every hint, example and generated comment writes RUN, so what it prints is what works.
 */
export const PROGRAM = 'imanager-port-exporter';
export const RUN = `npx ${PROGRAM}`;
