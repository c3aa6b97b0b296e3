// How a registry entry looks on the wire: the OpenAI model object plus switchyard's metadata.
// Why a model failed holds paths and may quote the files it read, so the full reason is shown to
// admin keys only; other callers read its summary ("failed to load"), the public only statuses.
import type { ModelEntry } from '../model-call/model-calls.js';
import type { Context } from 'koa';
import type { FailedKeyThrottle } from '../limits/failed-key-throttle.js';
import type { KeyRing, Principal } from '../http/key-ring.js';
import { optionalPrincipal } from '../http/presented-key.js';

/** Who reads a view: `admin` sees full failure reasons, `key` their summary, `public` neither. */
export type ViewAudience = 'admin' | 'key' | 'public';

/** The audience of an API route: its caller's key (or none, when authentication is off). */
export function audienceOf(principal: Principal | undefined): ViewAudience {
  return principal?.role === 'admin' ? 'admin' : 'key';
}

/**
 * The audience of a public route (/health, /ready): statuses for anyone, full failure reasons
 * (paths, the limiter store's address) only for a request that presents an admin key.
 */
export async function publicAudienceOf(ctx: Context, keyRing: KeyRing, failedKeys: FailedKeyThrottle): Promise<ViewAudience> {
  return (await optionalPrincipal(ctx, keyRing, failedKeys))?.role === 'admin' ? 'admin' : 'public';
}

function reasonFor(entry: ModelEntry, audience: ViewAudience): string | undefined {
  if (audience === 'admin') return entry.reason;
  return audience === 'key' ? entry.reasonSummary : undefined;
}

export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  metadata: Record<string, unknown>;
}

export function toModelObject(entry: ModelEntry, audience: ViewAudience): ModelObject {
  const info = entry.loaded?.info;
  const metadata: Record<string, unknown> = {
    type: entry.type,
    status: entry.status,
    backend: entry.backend ?? null,
    aliases: entry.config.aliases,
    load: entry.config.load,
  };
  const reason = reasonFor(entry, audience);
  if (reason) metadata.reason = reason;
  if (audience === 'admin' && entry.logTail) metadata.log_tail = entry.logTail;
  const contextLength = info?.contextLength ?? entry.config.context_length;
  if ((entry.type === 'chat' || entry.type === 'completion') && contextLength !== undefined) metadata.context_length = contextLength;
  const dimensions = info?.dimensions ?? entry.config.dimensions;
  if (entry.type === 'embedding' && dimensions !== undefined) metadata.dimensions = dimensions;
  if (info) {
    metadata.device = info.device;
    if (entry.loadSeconds !== undefined) metadata.load_seconds = Number(entry.loadSeconds.toFixed(3));
    const details = audience === 'admin' ? { ...info.details, ...info.adminDetails } : info.details;
    if (details && Object.keys(details).length > 0) metadata.details = details;
  }
  return { id: entry.id, object: 'model', created: entry.created, owned_by: 'switchyard', metadata };
}

/** The per-model breakdown shown by /health, /ready and the admin endpoints. */
export function toHealthView(entry: ModelEntry, audience: ViewAudience): Record<string, unknown> {
  const reason = reasonFor(entry, audience);
  // An engine's last log lines may name the host's files.
  const logTail = audience === 'admin' ? entry.logTail : undefined;
  return { type: entry.type, status: entry.status, ...(reason ? { reason } : {}), ...(logTail ? { log_tail: logTail } : {}) };
}
