// A free TCP port on 127.0.0.1 for an engine process to listen on: the kernel picks one for a
// throwaway socket, which is closed before the engine binds it. Another process may take it in
// between; the supervisor then starts the engine again on another (its EADDRINUSE is told apart).
import net from 'node:net';

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
