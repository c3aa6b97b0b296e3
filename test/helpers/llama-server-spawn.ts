// A llama-server child for tests of the llama-server capabilities, without the supervisor: the
// binary the gateway would run (SWITCHYARD_LLAMA_SERVER, else the install step's), on a free loopback port, ready when /health says so,
// and a LlamaServerConnection on it.
import { spawn, type ChildProcess } from 'node:child_process';
import { locateLlamaServer } from '../../src/backends/llama-server/binary.js';
import type { LlamaServerConnection } from '../../src/backends/llama-server/connection.js';
import { freeLoopbackPort } from '../../src/backends/llama-server/loopback-port.js';
import { createSilentLogger } from '../../src/logger.js';
import { OpenAIClient } from '../../src/upstream/openai-client.js';

/** The binary, or undefined when there is none (tests then skip, saying why). */
export const llamaServerBinary: string | undefined = locateLlamaServer(undefined, process.cwd())?.path;

export const noLlamaServer: string | false =
  llamaServerBinary === undefined ? 'no llama-server binary: set SWITCHYARD_LLAMA_SERVER to one, or build one with npm ci' : false;

export interface SpawnedLlamaServer {
  connection: LlamaServerConnection;
  baseUrl: string;
  child: ChildProcess;
  /** The last lines it printed, for a failure's message. */
  log(): string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

/** `environment` adds variables to the test's own (e.g. LLAMA_MEDIA_MARKER, as the supervisor sets it). */
export async function spawnLlamaServer(modelId: string, args: string[], environment: Record<string, string> = {}): Promise<SpawnedLlamaServer> {
  if (llamaServerBinary === undefined) throw new Error('no llama-server binary');
  const port = await freeLoopbackPort();
  const child = spawn(llamaServerBinary, ['--host', '127.0.0.1', '--port', String(port), '--threads', '1', '--no-webui', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...environment },
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 40));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const baseUrl = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama-server exited (${child.exitCode}) before it was ready:\n${lines.join('\n')}`);
    const ready = await fetch(`${baseUrl}/health`)
      .then((response) => response.ok)
      .catch(() => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`llama-server was not ready within ${READY_TIMEOUT_MS / 1000} s:\n${lines.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const connection: LlamaServerConnection = {
    modelId,
    baseUrl: () => baseUrl,
    client: new OpenAIClient({ responseTimeoutMs: 60_000 }),
    logger: createSilentLogger(),
  };
  return {
    connection,
    baseUrl,
    child,
    log: () => lines.join('\n'),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
