// Where stored Responses API responses live (POST /v1/responses with store, GET/DELETE
// /v1/responses/{id}, previous_response_id): one interface, whichever database holds them. A
// response belongs to the key that made it; every read names that key, so that another key's id is
// indistinguishable from one that does not exist.

/** One stored response: what GET returns, what input_items lists, and what a continuation needs. */
export interface StoredResponse {
  id: string;
  /** The name of the key that made it; '' for a request without a key. */
  owner: string;
  /** Unix seconds, as the response's `created_at`. */
  createdAt: number;
  /** The response object as the API returns it. */
  response: Record<string, unknown>;
  /** This request's input items (with ids), as GET /v1/responses/{id}/input_items lists them. */
  inputItems: Array<Record<string, unknown>>;
  /**
   * The conversation before this request's input, as items: the previous response's history, its
   * input and its output. A continuation's prompt is this, the input and the output, in order.
   */
  history: Array<Record<string, unknown>>;
}

export interface ResponseStore {
  save(stored: StoredResponse): Promise<void>;
  /** The response `id` when `owner` made it and it has not expired or been deleted; undefined otherwise. */
  load(id: string, owner: string): Promise<StoredResponse | undefined>;
  /** Deletes the response `id` of `owner`; false when there was none. */
  delete(id: string, owner: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A store in this process's memory: lost on restart (a placeholder until the database stores are wired). */
export function createMemoryResponseStore(): ResponseStore {
  const responses = new Map<string, StoredResponse>();
  const owned = (id: string, owner: string) => {
    const stored = responses.get(id);
    return stored?.owner === owner ? stored : undefined;
  };
  return {
    save: async (stored) => void responses.set(stored.id, structuredClone(stored)),
    load: async (id, owner) => {
      const stored = owned(id, owner);
      return stored && structuredClone(stored);
    },
    delete: async (id, owner) => owned(id, owner) !== undefined && responses.delete(id),
    close: async () => responses.clear(),
  };
}
