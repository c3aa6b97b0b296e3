// EmbeddingCapability over an ONNX encoder.
import type { EmbeddingBatchResult, EmbeddingCapability, EmbeddingInput, PreparedEmbeddingInput } from '../../engine/contract.js';
import { buildInputTensors, type InputFeed } from './input-tensors.js';
import type { InputPreparation } from './input-preparation.js';
import { runLengthSorted, type BatchLimits } from './length-sorted-runs.js';
import { mapInTimeSlices } from '../time-sliced-map.js';
import { normalizeInPlace, poolTokenEmbeddings, splitRows, type PoolingMode } from './pooling.js';
import type { OnnxSessionClient } from './session-client.js';
import type { TokenSequence } from './sequence-layout.js';
import type { ValueDescription } from './session-protocol.js';

/** Which output holds the embedding: one vector per input already, or one per token. */
export interface EmbeddingOutput {
  name: string;
  perToken: boolean;
}

/**
 * `sentence_embedding` (a sentence-transformers export, pooling included; CLIP-style text
 * encoders call it `text_embeds`) wins; then per-token
 * states pooled as configured; a 2-D output only as a last resort. BERT's `pooler_output` is
 * tanh(W·h[CLS]) from the next-sentence head, not the vector sentence-transformers models were
 * trained to produce, so a graph exposing both it and `last_hidden_state` is pooled from the latter.
 */
export function chooseEmbeddingOutput(outputs: readonly ValueDescription[]): EmbeddingOutput {
  const floats = outputs.filter((output) => output.type === 'float32');
  const named = (name: string) => floats.find((output) => output.name === name);
  const ofRank = (rank: number) => floats.find((output) => output.shape?.length === rank);
  const pooled = named('sentence_embedding') ?? named('sentence_embeddings') ?? named('text_embeds');
  if (pooled !== undefined) return { name: pooled.name, perToken: false };
  const perToken = named('last_hidden_state') ?? named('token_embeddings') ?? ofRank(3);
  if (perToken !== undefined) return { name: perToken.name, perToken: true };
  const anyPooled = named('pooler_output') ?? ofRank(2);
  if (anyPooled !== undefined) return { name: anyPooled.name, perToken: false };
  const described = outputs.map((output) => `${output.name} ${output.type ?? '?'} [${output.shape?.join(', ') ?? '?'}]`).join('; ');
  throw new Error(`the ONNX graph has no float32 embedding output (outputs: ${described})`);
}

export interface OnnxEmbeddingSettings extends BatchLimits {
  output: EmbeddingOutput;
  pooling: PoolingMode;
  normalize: boolean;
  maxInputTokens: number;
  padTokenId: number;
}

/** An input tokenized, cut and wrapped in its special tokens: the ids the graph runs. */
export interface OnnxPreparedInput extends PreparedEmbeddingInput {
  readonly sequence: TokenSequence;
}

export class OnnxEmbedding implements EmbeddingCapability<OnnxPreparedInput> {
  readonly maxInputTokens: number;
  readonly vocabularySize: number;
  readonly #session: OnnxSessionClient;
  readonly #feeds: readonly InputFeed[];
  readonly #preparation: InputPreparation;
  readonly #settings: OnnxEmbeddingSettings;
  #dimensions = 0;

  private constructor(session: OnnxSessionClient, feeds: readonly InputFeed[], preparation: InputPreparation, settings: OnnxEmbeddingSettings) {
    this.#session = session;
    this.#feeds = feeds;
    this.#preparation = preparation;
    this.#settings = settings;
    this.maxInputTokens = settings.maxInputTokens;
    this.vocabularySize = preparation.vocabularySize;
  }

  /** Runs one probe input, which checks the graph end to end and reads the vector width. */
  static async create(
    session: OnnxSessionClient,
    feeds: readonly InputFeed[],
    preparation: InputPreparation,
    settings: OnnxEmbeddingSettings,
  ): Promise<OnnxEmbedding> {
    const embedding = new OnnxEmbedding(session, feeds, preparation, settings);
    const [probe] = await embedding.#run([preparation.single('hello world', true)]);
    embedding.#dimensions = probe.length;
    return embedding;
  }

  get dimensions(): number {
    return this.#dimensions;
  }

  async prepare(inputs: EmbeddingInput[], options: { truncate: boolean; signal?: AbortSignal }): Promise<OnnxPreparedInput[]> {
    options.signal?.throwIfAborted();
    return mapInTimeSlices(
      inputs,
      (input) => {
        const sequence = this.#preparation.single(input, options.truncate);
        return { tokenCount: sequence.ids.length, sequence };
      },
      options.signal,
    );
  }

  async embed(inputs: readonly OnnxPreparedInput[], options: { signal?: AbortSignal }): Promise<EmbeddingBatchResult> {
    options.signal?.throwIfAborted();
    const vectors = await runLengthSorted(
      inputs.map((input) => input.sequence),
      this.#settings,
      options.signal,
      (group) => this.#run(group),
    );
    return { vectors, tokenCounts: inputs.map((input) => input.tokenCount) };
  }

  async #run(sequences: TokenSequence[]): Promise<Float32Array[]> {
    const { output, pooling, normalize, padTokenId } = this.#settings;
    const outputs = await this.#session.run(buildInputTensors(sequences, this.#feeds, padTokenId), [output.name]);
    const { data, dims } = outputs[output.name];
    const values = data as Float32Array;
    const vectors = output.perToken
      ? poolTokenEmbeddings(
          values,
          dims,
          sequences.map((sequence) => sequence.ids.length),
          pooling,
        )
      : splitRows(values, dims);
    if (normalize) for (const vector of vectors) normalizeInPlace(vector);
    return vectors;
  }
}
