// The keys a `backend = "llama-server"` model adds to [api.models.ID], and the llama-server flags
// they become. The keys the in-process engine understands mean the same here, so a model moves
// between the two engines by changing `backend` alone; the new keys are what only this engine has.
import { z } from 'zod';
import { llamaModelOptionsSchema } from '../llama/options.js';
import { vectorOutputOptions } from '../vector-options.js';

/**
 * Flags the gateway sets itself, or that would take the process out of its hands (where it
 * listens, who may call it, which model it serves and where from): `extra_args` may not hold them.
 * llama.cpp reads `--a_b` as `--a-b`, so names are compared after that rewrite.
 */
const GATEWAY_OWNED_FLAGS: ReadonlyMap<string, string> = new Map(
  [
    [['--host', '--port', '--reuse-port', '--path', '--api-prefix'], 'the gateway picks where the engine listens'],
    [['--api-key', '--api-key-file', '--ssl-key-file', '--ssl-cert-file'], 'the gateway owns how it is called'],
    [
      ['-m', '--model', '-mu', '--model-url', '-dr', '--docker-repo', '-hf', '-hfr', '--hf-repo', '-hff', '--hf-file', '-hft', '--hf-token'],
      'the model file is the model\'s "path"',
    ],
    [['-mm', '--mmproj', '-mmu', '--mmproj-url', '--no-mmproj', '--mmproj-auto', '--no-mmproj-auto'], 'the vision projector is the model\'s "mmproj"'],
    [['-md', '--model-draft', '--spec-draft-model', '-hfd', '-hfrd', '--hf-repo-draft', '--spec-draft-hf'], 'the draft model is the model\'s "draft_model"'],
    [['--models-dir', '--models-preset', '--models-max', '--models-autoload', '--no-models-autoload'], 'each model gets its own process (no router mode)'],
    [['-c', '--ctx-size', '-np', '--parallel'], 'they follow the model\'s "context_length" and "parallel"'],
    [['--embedding', '--embeddings', '--rerank', '--reranking'], 'they follow the model\'s "type"'],
    [['--pooling'], 'it is the model\'s "pooling" (an embedding model) or rank pooling (a rerank model)'],
  ].flatMap(([flags, why]) => (flags as string[]).map((flag) => [flag, why as string] as const)),
);

/** A flag as llama.cpp matches it: `--a_b` is `--a-b`; `--flag=value` is not a form it knows, but is read as `--flag`. */
function canonicalFlag(argument: string): string {
  const name = argument.split('=', 1)[0];
  return name.startsWith('--') ? name.replaceAll('_', '-') : name;
}

/** Why `argument` may not be in `extra_args`, or undefined when it may. */
export function refusedExtraArgument(argument: string): string | undefined {
  if (!argument.startsWith('-')) return undefined;
  const why = GATEWAY_OWNED_FLAGS.get(canonicalFlag(argument));
  return why === undefined ? undefined : `${argument} is set by the gateway: ${why}`;
}

const { gpu_layers, threads, parallel, batch_size, chat_template, max_token_seconds, max_thinking_tokens } = llamaModelOptionsSchema.shape;

export const llamaServerModelOptionsSchema = z.strictObject({
  gpu_layers,
  threads,
  parallel,
  batch_size,
  chat_template,
  max_token_seconds,
  max_thinking_tokens,
  /** Vision projector (a GGUF file, resolved like `path`): image input on a chat model. */
  mmproj: z.string().min(1).optional(),
  /** A smaller GGUF model of the same vocabulary (resolved like `path`) that drafts tokens for speculative decoding. */
  draft_model: z.string().min(1).optional(),
  /** Pooling of an embedding model's token vectors; absent: the one the GGUF declares. */
  pooling: z.enum(['none', 'mean', 'cls', 'last']).optional(),
  /** More llama-server flags, passed as given after the gateway's own (never those the gateway owns). */
  extra_args: z
    .array(z.string())
    .default([])
    .superRefine((args, context) => {
      args.forEach((argument, index) => {
        const refusal = refusedExtraArgument(argument);
        if (refusal !== undefined) context.addIssue({ code: 'custom', path: [index], message: refusal, input: argument });
      });
    }),
  ...vectorOutputOptions,
});

export type LlamaServerModelOptions = z.output<typeof llamaServerModelOptionsSchema>;

/** What the flags are made from: the model's keys and type, with every path already resolved. */
export interface LlamaServerLaunch {
  type: 'chat' | 'completion' | 'embedding' | 'rerank';
  modelPath: string;
  /** Tokens of context per sequence (the model's `context_length`, or the default the gateway chose). */
  contextLength: number;
  options: LlamaServerModelOptions;
  mmprojPath?: string;
  draftModelPath?: string;
}

/**
 * The model's part of the command line; the supervisor adds where it listens. llama-server's `-c`
 * is the context all `-np` slots share, so it gets context_length × parallel: each sequence has
 * `context_length` tokens, as on the in-process engine.
 */
export function llamaServerModelArguments(launch: LlamaServerLaunch): string[] {
  const { options } = launch;
  const args = ['--model', launch.modelPath, '--ctx-size', String(launch.contextLength * options.parallel), '--parallel', String(options.parallel)];
  if (options.gpu_layers !== 'auto') args.push('--n-gpu-layers', options.gpu_layers === 'max' ? 'all' : String(options.gpu_layers));
  if (options.threads !== undefined && options.threads > 0) args.push('--threads', String(options.threads));
  if (launch.type === 'embedding' || launch.type === 'rerank') {
    // An encoder sees a whole input in one physical batch: as large as a sequence's context, like
    // the in-process engine's.
    const batch = String(options.batch_size ?? launch.contextLength);
    args.push('--batch-size', batch, '--ubatch-size', batch);
    if (launch.type === 'rerank') args.push('--reranking');
    else args.push('--embeddings', ...(options.pooling === undefined ? [] : ['--pooling', options.pooling]));
  } else if (options.batch_size !== undefined) {
    args.push('--batch-size', String(options.batch_size));
  }
  if (options.chat_template !== undefined) args.push('--jinja', '--chat-template', options.chat_template);
  if (launch.mmprojPath !== undefined) args.push('--mmproj', launch.mmprojPath);
  // A draft model alone turns nothing on in this llama.cpp: the speculation type must be named too.
  if (launch.draftModelPath !== undefined) args.push('--model-draft', launch.draftModelPath, '--spec-type', 'draft-simple');
  // The engine's own counters, for the gateway's /metrics.
  args.push('--metrics');
  return [...args, ...options.extra_args];
}
