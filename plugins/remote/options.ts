// The remote plugin's options ([plugins.remote]) and the keys it adds to a model with
// backend = "remote". Defaults live here.
import { z } from 'zod';
import { readSecret } from '../../src/environment.js';

const seconds = z.number().positive();

export const remoteOptionsSchema = z.strictObject({
  /** Seconds between health checks of each upstream; 0 turns them off (failures still mark upstreams down). */
  health_check_interval: z.number().nonnegative().default(5),
  /** What a health check GETs: relative to the upstream URL ("models" → http://host/v1/models), or from the server root ("/health"). */
  health_check_path: z.string().min(1).default('models'),
  /** Seconds a health check may take. */
  health_check_timeout: seconds.default(2),
  /** Seconds an upstream may take to answer with its response headers (a stream's headers come when its run is admitted). */
  response_timeout: seconds.default(60),
  /** Seconds an upstream stays down after a failure; doubles with each consecutive failure. */
  backoff_initial: seconds.default(1),
  /** The longest an upstream stays down before it is tried again. */
  backoff_max: seconds.default(30),
});

export type RemoteOptions = z.output<typeof remoteOptionsSchema>;

const upstreamUrl = z
  .string()
  .regex(/^https?:\/\/[^\s/]+(?:\/\S*)?$/, 'an http:// or https:// URL such as "http://10.0.0.2:8080/v1"')
  .transform((url) => url.replace(/\/+$/, ''));

export const remoteModelOptionsSchema = z
  .strictObject({
    /** OpenAI-compatible base URLs, each up to and including /v1. */
    upstreams: z.array(upstreamUrl).min(1),
    /** The model name sent upstream; default: the model's id here. */
    upstream_model: z.string().min(1).optional(),
    /** Environment variable holding the upstreams' API key (sent as "Authorization: Bearer ..."). */
    api_key_env: z.string().min(1).optional(),
    /** Requests in flight per upstream; the model's slots are this times the number of upstreams. */
    max_concurrent_per_upstream: z.number().int().positive().default(64),
  })
  .superRefine((options, context) => {
    if (options.api_key_env !== undefined && readSecret(options.api_key_env) === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['api_key_env'],
        message: `expected the environment variable ${options.api_key_env} to hold the upstream API key, found it unset or empty`,
        input: options.api_key_env,
      });
    }
  });

export type RemoteModelOptions = z.output<typeof remoteModelOptionsSchema>;
