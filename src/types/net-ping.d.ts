/**
 * Types for net-ping 1.2 (CommonJS, ships none), covering what src/probe/icmp.ts
 * uses. Written from node_modules/net-ping/README.md and index.js.
 */
declare module 'net-ping' {
  import type { EventEmitter } from 'node:events';

  namespace netPing {
    const NetworkProtocol: { readonly IPv4: 1; readonly IPv6: 2 };

    interface SessionOptions {
      /** `NetworkProtocol.IPv4` (default) or `NetworkProtocol.IPv6`; one session per family. */
      networkProtocol?: 1 | 2;
      /** Bytes per echo request, at least 12. Default 16. */
      packetSize?: number;
      /** Re-sends after a timeout. Default 1. */
      retries?: number;
      /**
       * Written into every request and matched in replies; 1-65534. Sessions of one
       * family on one host must differ, or they take each other's replies.
       * Default `process.pid % 65535`.
       */
      sessionId?: number;
      /** Milliseconds to wait for each (re)try. Default 2000. */
      timeout?: number;
      /** IP TTL / hop limit. Default 128. */
      ttl?: number;
    }

    type PingCallback = (error: Error | null, target: string, sent?: Date, rcvd?: Date) => void;

    interface Session extends EventEmitter {
      /**
       * Read by `pingHost` when it queues a request, so setting it just before a
       * call gives that request its own timeout.
       */
      timeout: number;
      retries: number;
      readonly sessionId: number;
      pingHost(target: string, callback: PingCallback): this;
      /** Closes the raw socket; outstanding requests get "Socket forcibly closed". */
      close(): this;
      on(event: 'error', listener: (error: Error) => void): this;
      on(event: 'close', listener: () => void): this;
    }

    /** Opens the raw socket at once; throws synchronously when it is refused (EPERM). */
    function createSession(options?: SessionOptions): Session;

    class RequestTimedOutError extends Error {}
    class DestinationUnreachableError extends Error {
      readonly source: string;
    }
    class PacketTooBigError extends Error {
      readonly source: string;
    }
    class ParameterProblemError extends Error {
      readonly source: string;
    }
    class RedirectReceivedError extends Error {
      readonly source: string;
    }
    class SourceQuenchError extends Error {
      readonly source: string;
    }
    class TimeExceededError extends Error {
      readonly source: string;
    }
  }

  export = netPing;
}
