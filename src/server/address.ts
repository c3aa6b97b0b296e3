// Parses "host:port", "[::1]:port" or a bare port into what net.Server.listen takes, and refuses a
// config that would serve a non-loopback address without authentication.
import { ConfigError, type LoadedConfig } from '../config/load-config.js';

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

/**
 * Throws unless `loaded` keeps a gateway on `host` closed to strangers: checked at start and at
 * every reload (removing the last key of a config that relies on require_auth's default would
 * otherwise open a public address to anyone).
 */
export function checkNetworkExposure(host: string, loaded: LoadedConfig): void {
  if (!isLoopback(host) && !loaded.requireAuth && !loaded.config.api.allow_unauthenticated) {
    throw new ConfigError(loaded.file, [
      {
        keyPath: 'api.require_auth',
        message: `refusing to listen on ${host} without authentication: set require_auth = true with a key, or allow_unauthenticated = true to serve anyone who can reach this address`,
      },
    ]);
  }
}
