// How a registry entry looks on the wire: the OpenAI model object plus switchyard's metadata.
import type { ModelEntry } from '../registry/model-registry.js';

export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  metadata: Record<string, unknown>;
}

export function toModelObject(entry: ModelEntry): ModelObject {
  const info = entry.loaded?.info;
  const metadata: Record<string, unknown> = {
    type: entry.type,
    status: entry.status,
    backend: entry.backend ?? null,
    aliases: entry.config.aliases,
    load: entry.config.load,
  };
  if (entry.reason) metadata.reason = entry.reason;
  const contextLength = info?.contextLength ?? entry.config.context_length;
  if ((entry.type === 'chat' || entry.type === 'completion') && contextLength !== undefined) metadata.context_length = contextLength;
  const dimensions = info?.dimensions ?? entry.config.dimensions;
  if (entry.type === 'embedding' && dimensions !== undefined) metadata.dimensions = dimensions;
  if (info) {
    metadata.device = info.device;
    if (entry.loadSeconds !== undefined) metadata.load_seconds = Number(entry.loadSeconds.toFixed(3));
    if (info.details) metadata.details = info.details;
  }
  return { id: entry.id, object: 'model', created: entry.created, owned_by: 'switchyard', metadata };
}

/** The per-model breakdown shown by /health. */
export function toHealthView(entry: ModelEntry): Record<string, unknown> {
  return { type: entry.type, status: entry.status, ...(entry.reason ? { reason: entry.reason } : {}) };
}
