// A loopback HTTP server serving one fixture file with Range support, and, per request, the
// failures a model download meets in the wild: a cut connection, a stall, an error status.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server does with one request; requests beyond the planned ones are served normally. */
export type RequestPlan =
  | { kind: 'serve' }
  /** Sends the headers and `afterBytes` of the body, then destroys the socket. */
  | { kind: 'cut'; afterBytes: number }
  /** Sends the headers and `afterBytes` of the body, then never sends more. */
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'status'; status: number };

export interface FixtureServer {
  /** URL of the fixture file. */
  readonly fileUrl: string;
  /** Every request's Range header (undefined when absent), in order. */
  readonly ranges: (string | undefined)[];
  /** Answer Range requests with the whole file and 200, as some servers do. */
  ignoreRange: boolean;
  plan(...plans: RequestPlan[]): void;
  close(): Promise<void>;
}

/** `size` bytes that are the same on every run: SHA-256 blocks of a counter. */
export function deterministicBytes(size: number): Buffer {
  const blocks: Buffer[] = [];
  for (let index = 0; index * 32 < size; index++) blocks.push(createHash('sha256').update(`block ${index}`).digest());
  return Buffer.concat(blocks).subarray(0, size);
}

/** Lets a cut's bytes reach the client before the reset, so the partial file has them. */
const CUT_DELAY_MS = 100;

export async function startFixtureServer(body: Buffer, fileName = 'fixture.bin'): Promise<FixtureServer> {
  const plans: RequestPlan[] = [];
  const ranges: (string | undefined)[] = [];
  const state = { ignoreRange: false };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    ranges.push(request.headers.range);
    const plan = plans.shift() ?? { kind: 'serve' };
    if (new URL(request.url ?? '/', 'http://fixture').pathname !== `/files/${fileName}`) return void response.writeHead(404).end('not found');
    if (plan.kind === 'status') return void response.writeHead(plan.status).end(`status ${plan.status}`);

    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    if (range && !state.ignoreRange) {
      start = Number(range[1]);
      if (start >= body.length) {
        return void response.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      }
      response.writeHead(206, {
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'content-length': body.length - start,
        'content-type': 'application/octet-stream',
      });
    } else {
      response.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    }
    const rest = body.subarray(start);
    if (plan.kind === 'serve') return void response.end(rest);
    response.write(rest.subarray(0, plan.afterBytes));
    if (plan.kind === 'cut') setTimeout(() => response.socket?.destroy(), CUT_DELAY_MS);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    fileUrl: `http://127.0.0.1:${port}/files/${fileName}`,
    ranges,
    get ignoreRange() {
      return state.ignoreRange;
    },
    set ignoreRange(value: boolean) {
      state.ignoreRange = value;
    },
    plan(...next) {
      plans.push(...next);
    },
    close() {
      // Stalled responses would keep close() waiting forever.
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
