// The model's tokenizer, through @huggingface/transformers, from local files only.
import { readFile } from 'node:fs/promises';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { OnnxModelFiles } from './model-files.js';
import { readLayout, type SequenceLayout } from './sequence-layout.js';

export interface ModelTokenizer {
  /** The text's token ids without special tokens. */
  encodeContent(text: string): Int32Array;
  /** Special tokens around one text. */
  readonly single: SequenceLayout;
  /** Special tokens around a (query, document) pair; undefined when the tokenizer has no pair form. */
  readonly pair: SequenceLayout | undefined;
  readonly truncationSide: 'left' | 'right';
  /** tokenizer_config.json `model_max_length`, when it is a real limit. */
  readonly modelMaxLength: number | undefined;
  readonly vocabularySize: number;
  readonly padTokenId: number;
  encode(text: string, addSpecialTokens: boolean): number[];
  decode(ids: number[]): string;
}

// transformers writes this sentinel (int(1e30)) when a tokenizer has no length limit.
const NO_LIMIT_ABOVE = 1_000_000;

type Transformers = typeof import('@huggingface/transformers');
let offlineTransformers: Promise<Transformers> | undefined;

/**
 * Imported on first use so a gateway without ONNX models never pays for it (about 100 ms: it also
 * loads sharp and onnxruntime-node, the same onnxruntime-node 1.30.0 module this adapter uses).
 * The settings are process-wide; nothing else in switchyard uses transformers.
 */
function importOfflineTransformers(): Promise<Transformers> {
  offlineTransformers ??= import('@huggingface/transformers').then((transformers) => {
    const { env } = transformers;
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    // The file cache would be consulted before the model folder and lives in node_modules.
    env.useFSCache = false;
    env.useBrowserCache = false;
    // Belt and braces: whatever path reaches for the network fails instead of downloading.
    env.fetch = async (input: string | URL) => {
      throw new Error(`switchyard loads tokenizers from local files only; refused to fetch ${String(input)}`);
    };
    return transformers;
  });
  return offlineTransformers;
}

export async function loadModelTokenizer(files: OnnxModelFiles): Promise<ModelTokenizer> {
  const transformers = await importOfflineTransformers();
  const tokenizer = await instantiate(transformers, files);
  return wrapTokenizer(tokenizer, files);
}

async function instantiate(transformers: Transformers, files: OnnxModelFiles): Promise<PreTrainedTokenizer> {
  if (files.tokenizerConfig !== undefined) {
    // An absolute path is never a valid hub id, so transformers reads `<folder>/<file>` directly,
    // without `env.localModelPath` (a process-wide setting that concurrent loads would race on).
    return transformers.AutoTokenizer.from_pretrained(files.folder, { local_files_only: true });
  }
  // from_pretrained needs tokenizer_config.json (4.3.1 loads nothing without it); the base class
  // works from tokenizer.json alone.
  const tokenizerJson: unknown = JSON.parse(await readFile(files.tokenizerJsonFile, 'utf8'));
  return new transformers.PreTrainedTokenizer(tokenizerJson, {});
}

function wrapTokenizer(tokenizer: PreTrainedTokenizer, files: OnnxModelFiles): ModelTokenizer {
  const encodeContent = (text: string): Int32Array => Int32Array.from(tokenizer.encode(text, { add_special_tokens: false }));

  const probeFirst = 'hello';
  const probeSecond = 'world';
  const contents = [
    Int32Array.from(tokenizer.encode(probeFirst, { add_special_tokens: false })),
    Int32Array.from(tokenizer.encode(probeSecond, { add_special_tokens: false })),
  ];
  const probe = (text_pair: string | null) => {
    const encoded = tokenizer(probeFirst, { text_pair, return_tensor: false, return_token_type_ids: true });
    return { ids: encoded.input_ids, typeIds: encoded.token_type_ids };
  };
  let single: SequenceLayout;
  try {
    single = readLayout(probe(null), contents.slice(0, 1));
  } catch (error) {
    throw new Error(`tokenizer in "${files.folder}" is not supported: ${(error as Error).message}`);
  }
  let pair: SequenceLayout | undefined;
  try {
    pair = readLayout(probe(probeSecond), contents);
  } catch {
    pair = undefined;
  }

  const configured = tokenizer.model_max_length as unknown;
  const modelMaxLength =
    typeof configured === 'number' && Number.isFinite(configured) && configured > 0 && configured < NO_LIMIT_ABOVE ? configured : undefined;
  const modelVocabulary = files.modelConfig?.vocab_size;
  const padFromConfig = files.modelConfig?.pad_token_id;

  return {
    encodeContent,
    single,
    pair,
    truncationSide: tokenizer.config?.truncation_side === 'left' ? 'left' : 'right',
    modelMaxLength,
    // The embedding matrix bounds the ids the graph accepts; the tokenizer's vocabulary is a fallback.
    vocabularySize: typeof modelVocabulary === 'number' ? modelVocabulary : tokenizer.get_vocab().size,
    padTokenId: tokenizer.pad_token_id ?? (typeof padFromConfig === 'number' ? padFromConfig : 0),
    encode: (text, addSpecialTokens) => {
      if (!addSpecialTokens) return Array.from(encodeContent(text));
      return Array.from(single.assemble(encodeContent(text)).ids);
    },
    decode: (ids) => (ids.length === 0 ? '' : tokenizer.decode(ids, { skip_special_tokens: false })),
  };
}
