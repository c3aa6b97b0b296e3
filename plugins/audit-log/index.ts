// The first-party `audit-log` plugin: one JSON line per API request (time, request id, key name,
// endpoint, model, tokens, status, duration; prompts and outputs only with include_content, with
// redaction) appended to a file that rotates by size. Writes are buffered and asynchronous: a
// request never waits for the disk. Enable it with [plugins.audit-log].
import path from 'node:path';
import { z } from 'zod';
import { definePlugin, type PluginRequest } from '../../src/plugins/plugin-api.js';
import { auditRecord, collectChunk } from './audit-record.js';
import { RotatingFileWriter } from './rotating-file-writer.js';

const regex = z
  .string()
  .min(1)
  .refine(
    (pattern) => {
      try {
        new RegExp(pattern);
        return true;
      } catch {
        return false;
      }
    },
    { error: 'a valid regular expression' },
  );

const optionsSchema = z.strictObject({
  /** The audit file, relative to the config file's folder. */
  file: z.string().min(1).default('audit.jsonl'),
  /** Also record prompts and outputs (redacted). Off by default: they may hold personal data. */
  include_content: z.boolean().default(false),
  /** Regular expressions whose matches are replaced by "[REDACTED]" in prompts and outputs. */
  redact: z.array(regex).default([]),
  /** Rotate before the file would pass this size. */
  max_bytes: z
    .number()
    .int()
    .positive()
    .default(100 * 1024 * 1024),
  /** Rotated files kept (FILE.1 is the newest). */
  max_files: z.number().int().min(1).max(1000).default(5),
  /** Lines waiting for a slow disk beyond this many bytes are dropped (and the drop logged). */
  max_buffered_bytes: z
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024),
});

export default definePlugin({
  name: 'audit-log',
  optionsSchema,
  setup(context) {
    const options = context.options;
    const writer = new RotatingFileWriter(path.resolve(context.configDirectory, options.file), {
      maxBytes: options.max_bytes,
      maxFiles: options.max_files,
      maxBufferedBytes: options.max_buffered_bytes,
      logger: context.logger,
    });
    const patterns = options.redact.map((pattern) => new RegExp(pattern, 'g'));
    const streamed = new WeakMap<PluginRequest, string[]>();
    context.addHooks({
      ...(options.include_content
        ? {
            onStreamChunk(chunk, request) {
              let texts = streamed.get(request);
              if (!texts) streamed.set(request, (texts = []));
              collectChunk(chunk, texts);
            },
          }
        : {}),
      afterResponse(response, request) {
        const content = options.include_content ? { patterns, streamedTexts: streamed.get(request) } : undefined;
        writer.write(JSON.stringify(auditRecord(response, request, content)));
      },
    });
    context.onClose(() => writer.close());
  },
});
