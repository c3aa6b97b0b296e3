// A response store whose close waits for the operations already under way: a reload that replaces
// the store, or a shutdown, may come while a request is inside a save (Redis answering within its
// command timeout), and that save must end in the store it began in, not fail on a closed one.
// Routes look the store up at each use, so once a store is replaced nothing new starts in it.
import type { ResponseStore } from './response-store.js';

export function closeWhenIdle(store: ResponseStore): ResponseStore {
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  const track = async <T>(work: () => Promise<T>): Promise<T> => {
    inFlight += 1;
    try {
      return await work();
    } finally {
      inFlight -= 1;
      if (inFlight === 0) onIdle?.();
    }
  };
  return {
    save: (stored) => track(() => store.save(stored)),
    load: (id, owner) => track(() => store.load(id, owner)),
    delete: (id, owner) => track(() => store.delete(id, owner)),
    status: () => store.status(),
    setLimits: (limits) => store.setLimits(limits),
    close() {
      closing ??= (async () => {
        if (inFlight > 0) await new Promise<void>((resolve) => (onIdle = resolve));
        await store.close();
      })();
      return closing;
    },
  };
}
