/**
 * Whether a port is free to bind, as kubeadm's preflight asks it: listen on every
 * address (IPv6 dual-stack, or IPv4 where the host has no IPv6) and close at once.
 */
import { createServer, type Server } from 'node:net';

export type BindOutcome =
  | { readonly status: 'free' }
  | { readonly status: 'in-use' }
  /** Ports below net.ipv4.ip_unprivileged_port_start need root (CAP_NET_BIND_SERVICE). */
  | { readonly status: 'denied' }
  | { readonly status: 'error'; readonly error: string };

/** Where "every address" is: `::` takes IPv4 too, unless the host has no IPv6. */
const ANY_ADDRESSES = ['::', '0.0.0.0'] as const;

/** Listens on the port on every address; resolves with the server, or rejects with the errno error. */
export async function listenEverywhere(port: number): Promise<Server> {
  let lastError: unknown;
  for (const host of ANY_ADDRESSES) {
    const server = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host, ipv6Only: false }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return server;
    } catch (error) {
      lastError = error;
      const code = (error as NodeJS.ErrnoException).code;
      // No IPv6 on this host: try IPv4 alone. Anything else is the answer.
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw error;
    }
  }
  throw lastError;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function tryBind(port: number): Promise<BindOutcome> {
  try {
    await closeServer(await listenEverywhere(port));
    return { status: 'free' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') return { status: 'in-use' };
    if (code === 'EACCES') return { status: 'denied' };
    return { status: 'error', error: code ?? String(error) };
  }
}
