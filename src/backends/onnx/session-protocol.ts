// Messages between the main thread and the worker thread that owns an ONNX Runtime session.
// Tensors travel as plain typed arrays whose buffers are transferred, never copied.

export type ExecutionProviderName = 'cuda' | 'cpu';
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** The worker's `workerData`. */
export interface SessionStartOptions {
  modelFile: string;
  /** Tried in order; the first that creates a session is used. */
  executionProviders: ExecutionProviderName[];
  intraOpThreads?: number;
  interOpThreads?: number;
  graphOptimizationLevel: GraphOptimizationLevel;
  allowSpinning: boolean;
}

export type TensorData =
  BigInt64Array | Int32Array | Float32Array | Float64Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | BigUint64Array;

export interface PlainTensor {
  type: string;
  data: TensorData;
  dims: number[];
}

/** An input or output of the graph; symbolic dimensions are named (e.g. "batch_size"). */
export interface ValueDescription {
  name: string;
  type?: string;
  shape?: Array<number | string>;
}

export interface ProviderFailure {
  provider: ExecutionProviderName;
  message: string;
}

export type WorkerRequest = { kind: 'run'; id: number; feeds: Record<string, PlainTensor>; outputNames: string[] } | { kind: 'dispose' };

export type WorkerReply =
  | { kind: 'ready'; provider: ExecutionProviderName; failures: ProviderFailure[]; inputs: ValueDescription[]; outputs: ValueDescription[] }
  | { kind: 'start-failed'; failures: ProviderFailure[] }
  | { kind: 'result'; id: number; outputs: Record<string, PlainTensor> }
  | { kind: 'run-failed'; id: number; message: string }
  | { kind: 'disposed' };
