// Dynamic batching of embedding requests: concurrent requests for one model are merged into few
// engine runs. There is no timer: an idle engine starts at once on whatever is waiting, and
// inputs that arrive during a run form the next batch when it ends, so batches grow exactly as
// fast as the engine falls behind. Inputs arrive prepared (tokenized once, cut, counted): the
// batcher groups them by their token counts and never tokenizes.
//
// Admission: a request is *waiting* from the moment it is submitted until the first of its inputs
// goes into an engine run; from then on it is being served, however many runs its other inputs
// take. At most `maxQueue` requests wait (one more gets 429 `queue_full`, unless the engine is
// idle with nothing queued), and a request still waiting after `queueTimeoutMs` gets 503
// `queue_timeout`: the `max_queue` and `queue_timeout` of every other model.
import { type EmbeddingBatchResult, type EmbeddingCapability, type PreparedEmbeddingInput } from '../engine/contract.js';
import { ModelUnloadingError } from '../registry/model-errors.js';
import { QueueFullError, QueueTimeoutError, type QueueLimits } from './admission-errors.js';

export interface EmbeddingBatcherOptions extends QueueLimits {
  /** Inputs per engine run (config `max_batch_size`). */
  maxBatchSize: number;
  /** Padded tokens per engine run: inputs × the longest (config `max_batch_tokens`). */
  maxBatchTokens: number;
  /** Default true. false: each request runs alone, as submitted (the baseline of the batching bench). */
  enabled?: boolean;
  /** Called after every engine run with its input count and padded token count (for metrics). */
  onBatch?: (size: number, paddedTokens: number) => void;
}

export interface EmbeddingSubmitOptions {
  /** Aborting drops the request's inputs not yet run and rejects it with an AbortError. */
  signal?: AbortSignal;
}

type Engine = Pick<EmbeddingCapability, 'embed'>;

interface PendingRequest {
  readonly inputs: readonly PreparedEmbeddingInput[];
  readonly items: QueuedInput[];
  readonly vectors: Float32Array[];
  readonly tokenCounts: number[];
  readonly signal?: AbortSignal;
  /** No input of it has gone into a run yet (see "Admission" above). */
  waiting: boolean;
  queueTimer?: NodeJS.Timeout;
  /** Inputs whose vectors are still missing. */
  missing: number;
  /** First item that may still be queued (items before it were all taken). */
  cursor: number;
  settled: boolean;
  resolve(result: EmbeddingBatchResult): void;
  reject(error: unknown): void;
  detachAbort(): void;
}

interface QueuedInput {
  readonly request: PendingRequest;
  readonly index: number;
  /** Tokens after truncation: the padded width this input forces on its batch. */
  readonly tokens: number;
  taken: boolean;
}

export class EmbeddingBatcher {
  readonly #engine: Engine;
  readonly #maxBatchSize: number;
  readonly #maxBatchTokens: number;
  readonly #enabled: boolean;
  readonly #onBatch: ((size: number, paddedTokens: number) => void) | undefined;
  readonly #admission: QueueLimits;
  #waitingRequests = 0;
  /** Requests in arrival order; the oldest queued input anchors the next batch, so none starves. */
  #requests: PendingRequest[] = [];
  #head = 0;
  readonly #buckets = new LengthBuckets();
  #queuedInputs = 0;
  #running: Promise<void> | undefined;
  #pumpScheduled = false;
  #disposed = false;

  constructor(engine: Engine, options: EmbeddingBatcherOptions) {
    if (!(options.maxBatchSize >= 1) || !(options.maxBatchTokens >= 1)) throw new RangeError('maxBatchSize and maxBatchTokens must be at least 1');
    this.#engine = engine;
    this.#maxBatchSize = options.maxBatchSize;
    this.#maxBatchTokens = options.maxBatchTokens;
    this.#enabled = options.enabled ?? true;
    this.#onBatch = options.onBatch;
    this.#admission = { model: options.model, maxQueue: options.maxQueue, queueTimeoutMs: options.queueTimeoutMs };
  }

  /** Inputs waiting for a run (for a queue-depth gauge). */
  get queuedInputs(): number {
    return this.#queuedInputs;
  }

  /** Requests none of whose inputs has gone into a run yet (what `maxQueue` bounds). */
  get waitingRequests(): number {
    return this.#waitingRequests;
  }

  /**
   * Throws the 429 a request submitted now would get: called before a request's inputs are
   * tokenized, so that a full queue refuses it without that cost (`submit` checks again).
   */
  checkRoom(): void {
    // An idle engine starts at once on what is queued: requests arriving in the same tick whose
    // inputs fit its first batch do not wait, whatever max_queue says.
    const nextBatchHasRoom = this.#running === undefined && this.#queuedInputs < this.#maxBatchSize;
    if (!nextBatchHasRoom && this.#waitingRequests >= this.#admission.maxQueue)
      throw new QueueFullError(this.#admission, `${this.#waitingRequests} requests waiting for the embedding engine`);
  }

  /**
   * One vector and token count per input, in order, whichever batches the inputs ran in. Throws
   * the 429 of a full queue; rejects with the 503 of `queueTimeoutMs` spent waiting.
   */
  async submit(inputs: readonly PreparedEmbeddingInput[], options: EmbeddingSubmitOptions = {}): Promise<EmbeddingBatchResult> {
    this.#checkOpen();
    throwIfAborted(options.signal);
    if (inputs.length === 0) return { vectors: [], tokenCounts: [] };
    this.checkRoom();

    return new Promise<EmbeddingBatchResult>((resolve, reject) => {
      const request: PendingRequest = {
        inputs,
        items: [],
        vectors: new Array<Float32Array>(inputs.length),
        tokenCounts: new Array<number>(inputs.length),
        signal: options.signal,
        waiting: true,
        missing: inputs.length,
        cursor: 0,
        settled: false,
        resolve,
        reject,
        detachAbort: () => undefined,
      };
      for (let index = 0; index < inputs.length; index++) {
        const item: QueuedInput = { request, index, tokens: inputs[index].tokenCount, taken: false };
        request.items.push(item);
        this.#buckets.add(item);
      }
      this.#queuedInputs += inputs.length;
      this.#requests.push(request);
      this.#waitingRequests++;
      request.queueTimer = setTimeout(() => this.#settle(request, new QueueTimeoutError(this.#admission)), this.#admission.queueTimeoutMs);
      const signal = options.signal;
      if (signal !== undefined) {
        const onAbort = () => this.#settle(request, abortError(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        request.detachAbort = () => signal.removeEventListener('abort', onAbort);
      }
      this.#schedulePump();
    });
  }

  /** Refuses new requests, rejects the waiting ones and waits for the run in progress. */
  async dispose(): Promise<void> {
    if (this.#disposed) return this.#running;
    this.#disposed = true;
    // A request whose inputs are all in the run in progress still gets its vectors.
    for (let at = this.#head; at < this.#requests.length; at++) {
      const request = this.#requests[at];
      if (request.items.some((item) => !item.taken)) this.#settle(request, new ModelUnloadingError(this.#admission.model));
    }
    this.#requests = [];
    this.#head = 0;
    await this.#running;
  }

  #checkOpen(): void {
    if (this.#disposed) throw new ModelUnloadingError(this.#admission.model);
  }

  // setImmediate rather than a synchronous start: requests that arrive in the same turn of the
  // event loop (a client's parallel calls, a burst parsed together) join the first batch, for the
  // price of one loop turn, not a timer.
  #schedulePump(): void {
    if (this.#pumpScheduled || this.#running !== undefined) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#running !== undefined || this.#disposed) return;
    const batch = this.#enabled ? this.#takeBatch() : this.#takeRequest();
    if (batch === undefined) return;
    const run = this.#run(batch);
    this.#running = run;
    // #run hands the engine on itself once its engine work is over; this covers the other endings.
    void run.finally(() => {
      if (this.#running === run) this.#releaseEngine();
    });
  }

  /** Lets the next batch start: called while the current one's results are not yet delivered. */
  #releaseEngine(): void {
    this.#running = undefined;
    this.#pump();
  }

  /** The oldest input still queued, with its request's finished entries skipped. */
  #oldestQueued(): QueuedInput | undefined {
    while (this.#head < this.#requests.length) {
      const request = this.#requests[this.#head];
      if (!request.settled) {
        while (request.cursor < request.items.length && request.items[request.cursor].taken) request.cursor++;
        if (request.cursor < request.items.length) return request.items[request.cursor];
      }
      this.#head++;
      // Under steady load the list never empties: drop finished requests now and then.
      if (this.#head >= 1024 && this.#head * 2 >= this.#requests.length) {
        this.#requests = this.#requests.slice(this.#head);
        this.#head = 0;
      }
    }
    this.#requests = [];
    this.#head = 0;
    return undefined;
  }

  /**
   * Starts from the oldest queued input and adds, one at a time, whichever neighbour in length
   * adds the least padding: an input no longer than the batch's longest pads itself, a longer
   * one pads everything already in the batch.
   */
  #takeBatch(): QueuedInput[] | undefined {
    const anchor = this.#oldestQueued();
    if (anchor === undefined) return undefined;
    const batch = [this.#take(anchor)];
    let longest = anchor.tokens;
    while (batch.length < this.#maxBatchSize) {
      const next = batch.length + 1;
      const inside = this.#buckets.atMost(longest);
      const above = this.#buckets.above(longest);
      const insideCost = inside !== undefined && next * longest <= this.#maxBatchTokens ? longest - inside.tokens : Infinity;
      const aboveCost = above !== undefined && next * above.tokens <= this.#maxBatchTokens ? batch.length * (above.tokens - longest) : Infinity;
      if (insideCost === Infinity && aboveCost === Infinity) break;
      const chosen = insideCost <= aboveCost ? inside! : above!;
      batch.push(this.#take(chosen));
      longest = Math.max(longest, chosen.tokens);
    }
    return batch;
  }

  /** Batching off: the oldest request's inputs, all of them, as one engine call. */
  #takeRequest(): QueuedInput[] | undefined {
    const anchor = this.#oldestQueued();
    if (anchor === undefined) return undefined;
    return anchor.request.items.filter((item) => !item.taken).map((item) => this.#take(item));
  }

  #take(item: QueuedInput): QueuedInput {
    this.#stopWaiting(item.request);
    item.taken = true;
    this.#buckets.remove(item);
    this.#queuedInputs--;
    return item;
  }

  async #run(batch: QueuedInput[]): Promise<void> {
    const live = batch.filter((item) => !item.request.settled);
    if (live.length === 0) return;
    let result: EmbeddingBatchResult;
    try {
      result = await this.#embed(live);
    } catch (error) {
      await this.#isolateFailure(live, error);
      return;
    }
    // The next batch goes to the engine before these results are delivered: delivering resumes
    // every waiting request, and writing their responses (tens of them after a large batch)
    // would otherwise hold the engine idle for milliseconds per run.
    this.#releaseEngine();
    this.#deliver(live, result);
  }

  /** One bad input must not fail its neighbours: each request's part reruns alone, so only the request that holds it fails. */
  async #isolateFailure(batch: QueuedInput[], error: unknown): Promise<void> {
    const requests = [...new Set(batch.map((item) => item.request))].filter((request) => !request.settled);
    if (requests.length <= 1) {
      for (const request of requests) this.#settle(request, error);
      return;
    }
    for (const request of requests) {
      if (request.settled) continue;
      const part = batch.filter((item) => item.request === request);
      try {
        this.#deliver(part, await this.#embed(part));
      } catch (requestError) {
        this.#settle(request, requestError);
      }
    }
  }

  async #embed(items: QueuedInput[]): Promise<EmbeddingBatchResult> {
    const inputs = items.map((item) => item.request.inputs[item.index]);
    // A merged batch mixes requests, so no single signal may stop it; alone, a request's own
    // signal goes to the engine.
    const alone = !this.#enabled ? items[0].request : undefined;
    const result = await this.#engine.embed(inputs, { signal: alone?.signal });
    let longest = 0;
    for (const item of items) longest = Math.max(longest, item.tokens);
    this.#onBatch?.(items.length, items.length * longest);
    return result;
  }

  #deliver(items: QueuedInput[], result: EmbeddingBatchResult): void {
    items.forEach((item, position) => {
      const request = item.request;
      if (request.settled) return;
      request.vectors[item.index] = result.vectors[position];
      request.tokenCounts[item.index] = result.tokenCounts[position];
      request.missing--;
      if (request.missing === 0) this.#settle(request);
    });
  }

  /** The request leaves the waiting count: its first input is going into a run, or it ended. */
  #stopWaiting(request: PendingRequest): void {
    if (!request.waiting) return;
    request.waiting = false;
    this.#waitingRequests--;
    clearTimeout(request.queueTimer);
  }

  #settle(request: PendingRequest, error?: unknown): void {
    if (request.settled) return;
    request.settled = true;
    this.#stopWaiting(request);
    request.detachAbort();
    // Its inputs still queued are dropped here rather than skipped later, so none is ever run.
    for (const item of request.items) if (!item.taken) this.#take(item);
    if (error === undefined) request.resolve({ vectors: request.vectors, tokenCounts: request.tokenCounts });
    else request.reject(error);
  }
}

/** Queued inputs by token length: FIFO per length, lengths kept sorted for neighbour lookups. */
class LengthBuckets {
  readonly #buckets = new Map<number, Set<QueuedInput>>();
  /** Lengths with a non-empty bucket, ascending. */
  readonly #lengths: number[] = [];

  add(item: QueuedInput): void {
    let bucket = this.#buckets.get(item.tokens);
    if (bucket === undefined) {
      bucket = new Set();
      this.#buckets.set(item.tokens, bucket);
      this.#lengths.splice(this.#lowerBound(item.tokens), 0, item.tokens);
    }
    bucket.add(item);
  }

  remove(item: QueuedInput): void {
    const bucket = this.#buckets.get(item.tokens);
    if (bucket === undefined || !bucket.delete(item) || bucket.size > 0) return;
    this.#buckets.delete(item.tokens);
    this.#lengths.splice(this.#lowerBound(item.tokens), 1);
  }

  /** The oldest input of the longest length not above `tokens`. */
  atMost(tokens: number): QueuedInput | undefined {
    const at = this.#lowerBound(tokens + 1) - 1;
    return at >= 0 ? this.#oldest(this.#lengths[at]) : undefined;
  }

  /** The oldest input of the shortest length above `tokens`. */
  above(tokens: number): QueuedInput | undefined {
    const at = this.#lowerBound(tokens + 1);
    return at < this.#lengths.length ? this.#oldest(this.#lengths[at]) : undefined;
  }

  #oldest(tokens: number): QueuedInput | undefined {
    // A Set iterates in insertion order, which is arrival order.
    return this.#buckets.get(tokens)?.values().next().value;
  }

  /** Index of the first length >= tokens. */
  #lowerBound(tokens: number): number {
    let low = 0;
    let high = this.#lengths.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#lengths[middle] < tokens) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return new DOMException('The embedding request was aborted.', 'AbortError');
}
