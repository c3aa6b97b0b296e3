// Parses "host:port", "[::1]:port" or a bare port into what net.Server.listen takes.
export interface ListenAddress {
  host: string;
  port: number;
}

export function parseAddress(address: string): ListenAddress {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(address);
  const plain = /^(?:([^:]+):)?(\d+)$/.exec(address);
  const host = bracketed?.[1] ?? plain?.[1] ?? '127.0.0.1';
  const portText = bracketed?.[2] ?? plain?.[2];
  const port = portText === undefined ? Number.NaN : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid address "${address}": expected host:port with a port from 0 to 65535`);
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
