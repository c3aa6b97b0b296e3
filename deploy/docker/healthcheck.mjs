// The image's HEALTHCHECK: exits 0 when GET /health answers 200 ("ok" or "degraded"), 1 otherwise
// (503 while startup models load, no answer, or a timeout). Node's own fetch: no curl in the image.
// The port and host come from SWITCHYARD_ADDRESS, the address the gateway listens on in the
// container; SWITCHYARD_HEALTHCHECK_URL replaces the whole URL (e.g. when TLS terminates in front).

/** "host:port", "[v6]:port" or a bare port, as [api] address takes it; wildcard hosts become loopback. */
function healthUrl(address) {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):)?(\d{1,5})$/.exec(address.trim());
  if (!match) throw new Error(`SWITCHYARD_ADDRESS is not host:port: ${JSON.stringify(address)}`);
  let host = match[1] ?? '127.0.0.1';
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '[::]') host = '[::1]';
  return `http://${host}:${match[2]}/health`;
}

try {
  const url = process.env.SWITCHYARD_HEALTHCHECK_URL || healthUrl(process.env.SWITCHYARD_ADDRESS || '0.0.0.0:8080');
  const response = await fetch(url, { signal: AbortSignal.timeout(4_000) });
  const body = await response.text();
  // Docker keeps the output of the last checks: `docker inspect` shows why a container is unhealthy.
  process.stdout.write(`${response.status} ${body.slice(0, 300)}\n`);
  process.exitCode = response.status === 200 ? 0 : 1;
} catch (error) {
  process.stdout.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
