/**
 * The open ports of the probe benchmark, in a process of their own so that the cost
 * of accepting connections is not charged to the contender doing the probing.
 *
 *   node --import tsx bench/listeners.ts FILE     (FILE: "host port" a line)
 *
 * Prints `ready N` once every listener is bound, then runs until killed. Each
 * accepted connection is closed at once, as a service that drops an idle client.
 */
import { createServer, type Server } from 'node:net';
import { readEndpoints } from './files.js';

/** Deep enough for a burst of 1,024 concurrent connects to one port on a busy 2-core host. */
const BACKLOG = 4096;

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('listeners: usage: listeners.ts FILE\n');
  process.exit(2);
}

const servers: Server[] = [];
const bound = readEndpoints(file).map(
  ({ ip, port }) =>
    new Promise<void>((resolve, reject) => {
      const server = createServer((socket) => socket.destroy());
      servers.push(server);
      server.once('error', (error) =>
        reject(new Error(`listen ${ip}:${port}: ${error.message}`, { cause: error })),
      );
      server.listen({ host: ip, port, backlog: BACKLOG }, resolve);
    }),
);

Promise.all(bound).then(
  () => process.stdout.write(`ready ${servers.length}\n`),
  (error: Error) => {
    process.stderr.write(`listeners: ${error.message}\n`);
    process.exit(1);
  },
);
