// Worker thread entry: owns one ONNX Runtime session and runs it on request.
//
// onnxruntime-node's `session.run` is a synchronous native call (the promise only defers it with
// setImmediate), so on the main thread every run would stall HTTP handling, streaming and health
// checks for its whole duration. Here it blocks only this thread.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { createSessionWithFallback, describeValues, NoExecutionProviderError } from './onnx-session.js';
import type { PlainTensor, SessionStartOptions, TensorData, WorkerReply, WorkerRequest } from './session-protocol.js';

if (parentPort === null) throw new Error('session-worker.js runs as a worker thread only');
const port = parentPort;
const reply = (message: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function start(): Promise<void> {
  let session: ort.InferenceSession;
  try {
    const created = await createSessionWithFallback(workerData as SessionStartOptions);
    session = created.session;
    reply({
      kind: 'ready',
      provider: created.provider,
      failures: created.failures,
      inputs: describeValues(session.inputMetadata),
      outputs: describeValues(session.outputMetadata),
    });
  } catch (error) {
    const failures = error instanceof NoExecutionProviderError ? error.failures : [{ provider: 'cpu' as const, message: String(error) }];
    reply({ kind: 'start-failed', failures });
    port.close();
    return;
  }

  port.on('message', (request: WorkerRequest) => {
    if (request.kind === 'dispose') {
      void session.release().finally(() => {
        reply({ kind: 'disposed' });
        port.close();
      });
      return;
    }
    void run(session, request.id, request.feeds, request.outputNames);
  });
}

async function run(session: ort.InferenceSession, id: number, plainFeeds: Record<string, PlainTensor>, outputNames: string[]): Promise<void> {
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(plainFeeds)) {
      feeds[name] = new ort.Tensor(tensor.type as 'int64', tensor.data as BigInt64Array, tensor.dims);
    }
    const results = await session.run(feeds, outputNames);
    const outputs: Record<string, PlainTensor> = {};
    const transfer = new Set<ArrayBuffer>();
    for (const name of outputNames) {
      const tensor = results[name];
      const data = tensor.data as TensorData;
      outputs[name] = { type: tensor.type, data, dims: [...tensor.dims] };
      transfer.add(data.buffer as ArrayBuffer);
    }
    reply({ kind: 'result', id, outputs }, [...transfer]);
  } catch (error) {
    reply({ kind: 'run-failed', id, message: error instanceof Error ? error.message : String(error) });
  }
}

void start();
