// The one llama.cpp runtime of the process. node-llama-cpp loads a native binding per `getLlama()`
// call and shares its thread budget between the contexts created from it, so every model must come
// from the same instance: the promise is cached here.
import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import type { Logger } from '../../logger.js';

let runtime: Promise<Llama> | undefined;
let logSink: Logger | undefined;

/** Engine log text kept per line: enough for any llama.cpp message, not for a client's payload. */
const ENGINE_LOG_CHARS = 500;

/**
 * llama.cpp's own log lines go to the first gateway logger that asks for the runtime, as an
 * escaped, capped field: they may carry a client's text (a grammar, a prompt), never raw lines.
 */
function forwardLlamaLog(level: LlamaLogLevel, message: string): void {
  const text = message.trimEnd();
  if (logSink === undefined || text === '') return;
  const fields = { engine: 'llama.cpp', text: text.slice(0, ENGINE_LOG_CHARS), ...(text.length > ENGINE_LOG_CHARS ? { textChars: text.length } : {}) };
  if (level === LlamaLogLevel.fatal || level === LlamaLogLevel.error) logSink.error(fields, 'engine log');
  else if (level === LlamaLogLevel.warn) logSink.warn(fields, 'engine log');
  else logSink.debug(fields, 'engine log');
}

async function createRuntime(): Promise<Llama> {
  const llama = await getLlama({
    // CUDA, Vulkan or Metal when the machine has one and a matching prebuilt binary loads; CPU otherwise.
    gpu: 'auto',
    // A gateway must never start compiling llama.cpp (minutes, needs a toolchain) on a request path.
    build: 'never',
    logLevel: LlamaLogLevel.warn,
    logger: forwardLlamaLog,
  });
  if (llama.gpu === false) {
    // On CPU node-llama-cpp caps the threads of all contexts together at max(4, math cores); on a
    // 2-core machine that oversubscribes: 64 tokens took 9 s with the default and 1 s with 2 threads.
    // Capping at the math cores makes a context default to one thread per core and makes models that
    // evaluate at the same time split the cores instead of fighting over them.
    llama.maxThreads = Math.max(1, llama.cpuMathCores);
  }
  return llama;
}

/** The process-wide llama.cpp runtime; a failed start is retried on the next call. */
export function getLlamaRuntime(logger: Logger): Promise<Llama> {
  logSink ??= logger;
  if (runtime === undefined) {
    runtime = createRuntime().catch((error: unknown) => {
      runtime = undefined;
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`llama.cpp could not start (node-llama-cpp found no working binary for this machine): ${reason}`, { cause: error });
    });
  }
  return runtime;
}

/**
 * Threads for one context. An explicit `threads` is the operator's choice and may exceed the
 * shared cap, which is then raised to honour it; 0 or absent takes the runtime's default (the
 * math cores on CPU, see above).
 */
export function resolveContextThreads(llama: Llama, threads: number | undefined): number | undefined {
  if (threads === undefined || threads === 0) return undefined;
  if (llama.maxThreads !== 0 && threads > llama.maxThreads) llama.maxThreads = threads;
  return threads;
}

/** The device the model's layers actually run on: a GPU type, or "cpu" when nothing is offloaded. */
export function deviceInUse(llama: Llama, gpuLayers: number): string {
  return llama.gpu === false || gpuLayers === 0 ? 'cpu' : llama.gpu;
}
