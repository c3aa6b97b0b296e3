// Creates an ONNX Runtime session, trying the configured execution providers in order.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ExecutionProviderName, ProviderFailure, SessionStartOptions, ValueDescription } from './session-protocol.js';

export interface CreatedSession {
  session: ort.InferenceSession;
  provider: ExecutionProviderName;
  /** Providers tried before the one used, with the reason each failed. */
  failures: ProviderFailure[];
}

export class NoExecutionProviderError extends Error {
  constructor(readonly failures: ProviderFailure[]) {
    super(`no execution provider could load the model: ${failures.map((f) => `${f.provider}: ${f.message}`).join('; ')}`);
    this.name = 'NoExecutionProviderError';
  }
}

/**
 * One provider per attempt: given ["cuda", "cpu"] together, onnxruntime-node 1.30 fails outright
 * when the CUDA libraries are missing instead of falling back.
 */
export async function createSessionWithFallback(options: SessionStartOptions): Promise<CreatedSession> {
  const failures: ProviderFailure[] = [];
  for (const provider of options.executionProviders) {
    const missing = provider === 'cuda' ? missingCudaLibraries() : undefined;
    if (missing !== undefined) {
      failures.push({ provider, message: missing });
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(options.modelFile, sessionOptions(options, provider));
      return { session, provider, failures };
    } catch (error) {
      failures.push({ provider, message: error instanceof Error ? error.message : String(error) });
    }
  }
  throw new NoExecutionProviderError(failures);
}

function sessionOptions(options: SessionStartOptions, provider: ExecutionProviderName): ort.InferenceSession.SessionOptions {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: options.graphOptimizationLevel,
    // By default a waiting worker thread spins: under load, the gateway's event loop then preempts
    // a computing thread while its partner burns the other core waiting for it. Measured through
    // the gateway on 2 cores: sleeping gives 5% more throughput at 32 clients and costs a lone
    // request 0.5 ms (README, "Benchmarks").
    extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' }, inter_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } },
  };
  // 0 (or unset) leaves the choice to ONNX Runtime: one thread per physical core.
  if (options.intraOpThreads) sessionOptions.intraOpNumThreads = options.intraOpThreads;
  if (options.interOpThreads) {
    sessionOptions.interOpNumThreads = options.interOpThreads;
    // Inter-op threads only run independent graph branches in the parallel execution mode.
    if (options.interOpThreads > 1) sessionOptions.executionMode = 'parallel';
  }
  return sessionOptions;
}

/**
 * onnxruntime-node ships CPU only; its install script adds the CUDA provider libraries beside the
 * binding when run with ONNXRUNTIME_NODE_INSTALL=cuda12 (plain installs skip it). Checking for
 * them first gives an operator an actionable reason, and spares the log ONNX Runtime's own
 * red "Failed to load library" line, which no per-session setting silences (only the
 * process-wide log level, which would hide every later ONNX Runtime warning too).
 */
function missingCudaLibraries(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  const bindingFolder = path.join(path.dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
  const library = path.join(bindingFolder, 'libonnxruntime_providers_cuda.so');
  if (existsSync(library)) return undefined;
  return `onnxruntime-node was installed without its CUDA libraries (${library} is missing); on a CUDA 12 machine, run ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js`;
}

export function describeValues(metadata: readonly ort.InferenceSession.ValueMetadata[]): ValueDescription[] {
  return metadata.map((value) => (value.isTensor ? { name: value.name, type: value.type, shape: [...value.shape] } : { name: value.name }));
}
