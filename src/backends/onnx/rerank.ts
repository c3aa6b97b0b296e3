// RerankCapability over an ONNX cross-encoder (sequence classification with 1 or 2 logits).
import type { RerankCapability, RerankResult } from '../../engine/contract.js';
import { buildInputTensors, type InputFeed } from './input-tensors.js';
import type { InputPreparation } from './input-preparation.js';
import { runLengthSorted, type BatchLimits } from './length-sorted-runs.js';
import { mapInTimeSlices } from '../time-sliced-map.js';
import type { OnnxSessionClient } from './session-client.js';
import type { TokenSequence } from './sequence-layout.js';
import type { ValueDescription } from './session-protocol.js';

export function chooseLogitsOutput(outputs: readonly ValueDescription[]): string {
  const logits = outputs.find((output) => output.name === 'logits') ?? (outputs.length === 1 ? outputs[0] : undefined);
  if (logits === undefined || logits.type !== 'float32') {
    throw new Error(`a rerank model needs a float32 "logits" output [batch, labels]; the graph has ${outputs.map((output) => output.name).join(', ')}`);
  }
  return logits.name;
}

export interface OnnxRerankSettings extends BatchLimits {
  logitsOutput: string;
  sigmoid: boolean;
  maxInputTokens: number;
  padTokenId: number;
}

export class OnnxRerank implements RerankCapability {
  readonly maxInputTokens: number;
  readonly #session: OnnxSessionClient;
  readonly #feeds: readonly InputFeed[];
  readonly #preparation: InputPreparation;
  readonly #settings: OnnxRerankSettings;
  /** Logits per pair; the last is the "relevant" class of a multi-label head. */
  #labels = 1;

  private constructor(session: OnnxSessionClient, feeds: readonly InputFeed[], preparation: InputPreparation, settings: OnnxRerankSettings) {
    this.#session = session;
    this.#feeds = feeds;
    this.#preparation = preparation;
    this.#settings = settings;
    this.maxInputTokens = settings.maxInputTokens;
  }

  /** Runs one probe pair, which checks the graph end to end and reads the number of labels. */
  static async create(
    session: OnnxSessionClient,
    feeds: readonly InputFeed[],
    preparation: InputPreparation,
    settings: OnnxRerankSettings,
  ): Promise<OnnxRerank> {
    const rerank = new OnnxRerank(session, feeds, preparation, settings);
    const outputs = await session.run(buildInputTensors([preparation.pair(preparation.query('hello'), 'world', true)], feeds, settings.padTokenId), [
      settings.logitsOutput,
    ]);
    const { dims } = outputs[settings.logitsOutput];
    if (dims.length !== 2 || dims[1] < 1) throw new Error(`the "${settings.logitsOutput}" output has shape [${dims.join(', ')}]; [batch, labels] is expected`);
    rerank.#labels = dims[1];
    return rerank;
  }

  get labels(): number {
    return this.#labels;
  }

  async rerank(query: string, documents: string[], options: { truncate: boolean; signal?: AbortSignal }): Promise<RerankResult> {
    options.signal?.throwIfAborted();
    // The query is tokenized once for all its documents.
    const queryIds = this.#preparation.query(query);
    const sequences = await mapInTimeSlices(documents, (document) => this.#preparation.pair(queryIds, document, options.truncate), options.signal);
    const scores = await runLengthSorted(sequences, this.#settings, options.signal, (group) => this.#score(group));
    let promptTokens = 0;
    for (const sequence of sequences) promptTokens += sequence.ids.length;
    return { scores, promptTokens };
  }

  async #score(sequences: TokenSequence[]): Promise<number[]> {
    const { logitsOutput, sigmoid, padTokenId } = this.#settings;
    const outputs = await this.#session.run(buildInputTensors(sequences, this.#feeds, padTokenId), [logitsOutput]);
    const logits = outputs[logitsOutput].data as Float32Array;
    const labels = this.#labels;
    return sequences.map((_, row) => {
      const logit = relevanceLogit(logits.subarray(row * labels, (row + 1) * labels));
      return sigmoid ? 1 / (1 + Math.exp(-logit)) : logit;
    });
  }
}

/**
 * One label: its logit. Several: the log-odds of the last ("relevant") class against the others,
 * l_last - log(sum of exp(l_other)), so that its sigmoid is the softmax probability of that class
 * (for two labels, l1 - l0): the last logit alone would ignore how strongly "not relevant" scored.
 */
export function relevanceLogit(logits: ArrayLike<number>): number {
  const last = logits[logits.length - 1];
  if (logits.length === 1) return last;
  let largest = -Infinity;
  for (let index = 0; index < logits.length - 1; index++) largest = Math.max(largest, logits[index]);
  let sum = 0;
  for (let index = 0; index < logits.length - 1; index++) sum += Math.exp(logits[index] - largest);
  return last - (largest + Math.log(sum));
}
