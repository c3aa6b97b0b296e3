// Main-thread handle on the worker that owns a session (see session-worker.ts for why a worker).
import { Worker } from 'node:worker_threads';
import type {
  ExecutionProviderName,
  PlainTensor,
  ProviderFailure,
  SessionStartOptions,
  ValueDescription,
  WorkerReply,
  WorkerRequest,
} from './session-protocol.js';

const DISPOSE_GRACE_MS = 5_000;

export class SessionStartError extends Error {
  constructor(
    message: string,
    readonly failures: ProviderFailure[],
  ) {
    super(message);
    this.name = 'SessionStartError';
  }
}

interface PendingRun {
  resolve: (outputs: Record<string, PlainTensor>) => void;
  reject: (error: Error) => void;
}

export class OnnxSessionClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, PendingRun>();
  #nextId = 0;
  /** Set once the worker can take no more runs; later runs fail with it. */
  #stopped: Error | undefined;
  #exited: Promise<void>;

  private constructor(
    worker: Worker,
    readonly provider: ExecutionProviderName,
    /** Providers tried before `provider`, with why each failed. */
    readonly failures: ProviderFailure[],
    readonly inputs: ValueDescription[],
    readonly outputs: ValueDescription[],
  ) {
    this.#worker = worker;
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (reply: WorkerReply) => this.#onReply(reply));
    worker.on('error', (error) => this.#stop(new Error(`ONNX Runtime worker failed: ${error.message}`)));
    worker.on('exit', (code) => this.#stop(new Error(`ONNX Runtime worker exited (code ${code})`)));
    // An idle session must not keep the process alive (a test or CLI that forgets dispose()).
    worker.unref();
  }

  /** Starts the worker and its session; rejects with every provider's failure when none loads. */
  static async start(options: SessionStartOptions, signal?: AbortSignal): Promise<OnnxSessionClient> {
    signal?.throwIfAborted();
    const worker = new Worker(new URL('./session-worker.js', import.meta.url), { workerData: options });
    try {
      const ready = await new Promise<Extract<WorkerReply, { kind: 'ready' }>>((resolve, reject) => {
        const onAbort = () => reject(signal?.reason instanceof Error ? signal.reason : new Error('model load aborted'));
        signal?.addEventListener('abort', onAbort, { once: true });
        worker.once('message', (reply: WorkerReply) => {
          signal?.removeEventListener('abort', onAbort);
          if (reply.kind === 'ready') resolve(reply);
          else if (reply.kind === 'start-failed') {
            const reasons = reply.failures.map((failure) => `${failure.provider}: ${failure.message}`).join('; ');
            reject(new SessionStartError(`ONNX Runtime could not load "${options.modelFile}" (${reasons})`, reply.failures));
          } else reject(new Error(`unexpected first message from the ONNX Runtime worker: ${reply.kind}`));
        });
        worker.once('error', (error) => reject(new Error(`ONNX Runtime worker failed to start: ${error.message}`)));
        worker.once('exit', (code) => reject(new Error(`ONNX Runtime worker exited during start (code ${code})`)));
      });
      return new OnnxSessionClient(worker, ready.provider, ready.failures, ready.inputs, ready.outputs);
    } catch (error) {
      await worker.terminate();
      throw error;
    }
  }

  /** Runs the graph once. Input buffers are transferred to the worker: do not reuse them. */
  run(feeds: Record<string, PlainTensor>, outputNames: string[]): Promise<Record<string, PlainTensor>> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    const id = this.#nextId++;
    const transfer = new Set<ArrayBuffer>();
    for (const tensor of Object.values(feeds)) transfer.add(tensor.data.buffer as ArrayBuffer);
    const request: WorkerRequest = { kind: 'run', id, feeds, outputNames };
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(request, [...transfer]);
    });
  }

  /** Releases the session and ends the worker; runs still waiting fail. */
  async dispose(): Promise<void> {
    if (this.#stopped !== undefined) return this.#exited;
    this.#stop(new Error('the ONNX model was unloaded'));
    this.#worker.ref();
    const request: WorkerRequest = { kind: 'dispose' };
    this.#worker.postMessage(request);
    const grace = new Promise<'timeout'>((resolve) => setTimeout(resolve, DISPOSE_GRACE_MS, 'timeout').unref());
    if ((await Promise.race([this.#exited, grace])) === 'timeout') await this.#worker.terminate();
  }

  #onReply(reply: WorkerReply): void {
    if (reply.kind !== 'result' && reply.kind !== 'run-failed') return;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.kind === 'result') pending.resolve(reply.outputs);
    else pending.reject(new Error(`ONNX Runtime run failed: ${reply.message}`));
  }

  #stop(reason: Error): void {
    this.#stopped ??= reason;
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
  }
}
