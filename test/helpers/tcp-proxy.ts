// A loopback TCP proxy in front of a real server, misbehaving on request the way servers and
// networks do: dropping a kept-alive connection whose client speaks again after an idle pause (a
// server's idle close racing the client's next request, made to happen every time), and holding
// the server's bytes back for a while (a slow upstream).
import net from 'node:net';

export interface TcpProxyOptions {
  /** A connection idle this long is dropped when its client sends again: every other one with a FIN, the others with a reset. */
  dropIdleAfterMs?: number;
}

export interface TcpProxy {
  url: string;
  /** Connections dropped after an idle pause. */
  dropped: number;
  /** Milliseconds every byte from the server is held back (0: none); may change at any time. */
  holdMs: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: URL, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const proxy: TcpProxy = { url: '', dropped: 0, holdMs: 0, close: async () => undefined };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    let lastActivity = 0;
    const touch = () => (lastActivity = performance.now());
    client.on('data', (data: Buffer) => {
      const idle = lastActivity !== 0 && performance.now() - lastActivity >= (options.dropIdleAfterMs ?? Number.POSITIVE_INFINITY);
      if (idle) {
        const reset = proxy.dropped++ % 2 === 1;
        upstream.destroy();
        if (reset) client.resetAndDestroy();
        else client.destroy();
        return;
      }
      touch();
      upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => {
      touch();
      // Timers of one delay fire in the order they were set: the bytes stay in order.
      if (proxy.holdMs > 0) setTimeout(() => client.write(data), proxy.holdMs);
      else client.write(data);
    });
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ]) {
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        // Bytes still held back go out first.
        setTimeout(() => to.destroy(), from === upstream ? proxy.holdMs : 0);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  proxy.close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
