// The gateway's HTTP servers, the API's and (with [metrics] address) the metrics': listening, and
// closing with a grace period: stop accepting, let the requests in flight finish, end the rest.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Logger } from '../logger.js';
import { parseAddress } from './address.js';

export interface Listener {
  app: Koa;
  address: string;
}

function createServer(app: Koa): http.Server {
  const server = http.createServer(app.callback());
  // Slow clients may not hold a socket forever while sending headers or a body.
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;
  server.keepAliveTimeout = 65_000;
  return server;
}

async function listen(server: http.Server, address: string): Promise<string> {
  const { host, port } = parseAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
}

export class HttpServers {
  private constructor(
    readonly server: http.Server,
    readonly url: string,
    private readonly metricsServer?: http.Server,
    readonly metricsUrl?: string,
  ) {}

  /** Listens on the API's address, then on the metrics' (if any); a failure closes what was opened. */
  static async listen(api: Listener, metrics?: Listener): Promise<HttpServers> {
    const server = createServer(api.app);
    try {
      const url = await listen(server, api.address);
      if (!metrics) return new HttpServers(server, url);
      const metricsServer = createServer(metrics.app);
      return new HttpServers(server, url, metricsServer, await listen(metricsServer, metrics.address));
    } catch (error) {
      server.close();
      throw error;
    }
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Stops accepting and waits up to `graceMs` for the requests in flight; then calls `onGraceOver`
   * (which ends the work still running) and closes every connection after at most 2 s more.
   */
  async close(graceMs: number, onGraceOver: () => void, logger: Logger): Promise<void> {
    const { server } = this;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections become idle as their last response ends: close them as they do.
    const idleCloser = setInterval(() => server.closeIdleConnections(), 100);
    server.closeIdleConnections();
    this.metricsServer?.close();
    this.metricsServer?.closeAllConnections();
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([closed.then(() => 'closed' as const), timer])) === 'timeout') {
      logger.warn({ graceSeconds: graceMs / 1000 }, 'shutdown grace period over: ending the requests still running');
      onGraceOver();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      server.closeAllConnections();
    }
    clearInterval(idleCloser);
  }
}
