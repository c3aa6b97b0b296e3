// What a backend is to the gateway, whether built in (llama, onnx) or registered by a plugin: its
// name, the model keys it adds to [api.models.ID] (a zod object: validated at config load, errors
// naming file, line and key), how it recognises a model's path, and how it loads a model. The
// config schema, the registry and the plugin loader read every backend through this one shape.
import type { z } from 'zod';
import type { ModelConfig } from '../config/schema.js';
import type { BackendFactory, BackendLoadContext, LoadedModel, ModelType } from './contract.js';

/** What `load` receives: the registry's load context plus the model's own backend keys. */
export interface BackendDescriptorLoadContext<ModelOptions> extends BackendLoadContext {
  /** The model's keys of this backend, parsed by `modelOptionsSchema` (defaults applied). */
  modelOptions: ModelOptions;
}

export interface BackendDescriptor<Schema extends z.ZodObject = z.ZodObject> {
  /** The `backend` value models use. */
  readonly name: string;
  /**
   * The keys this backend adds to [api.models.ID], as a zod object with their defaults. They are
   * allowed only on models of this backend; another backend may declare the same key.
   */
  readonly modelOptionsSchema?: Schema;
  /** Whether its models need `path` (default false: the backend finds its model elsewhere). */
  readonly requiresPath?: boolean;
  /**
   * Whether a model that names no backend is this backend's, from the path as written and the
   * model's type. Only the path's name is read, never the disk, so that whether a config is valid
   * does not depend on which files exist yet (a `source` download, a volume mounted later).
   */
  claimsPath?(modelPath: string, type: ModelType): boolean;
  /**
   * Why the files at the model's resolved path cannot be this backend's model (missing, not a
   * model), in words an operator can act on; undefined when they look right. Asked before every
   * load, and for built-in backends also as soon as a model is configured.
   */
  checkFiles?(resolvedPath: string, config: ModelConfig): Promise<string | undefined>;
  /** Loads one model; throw with a reason an operator can act on (the model is marked unavailable). */
  load(context: BackendDescriptorLoadContext<z.output<Schema>>): Promise<LoadedModel>;
}

/** Identity function that lets TypeScript infer a descriptor's options type from its schema. */
export function defineBackend<Schema extends z.ZodObject>(descriptor: BackendDescriptor<Schema>): BackendDescriptor<Schema> {
  return descriptor;
}

/**
 * The first of `backends` that claims a model of `type` at `modelPath`, for a model that names no
 * backend; undefined when none does (or the model has no path).
 */
export function backendClaiming(modelPath: string | undefined, type: ModelType, backends: readonly BackendDescriptor[]): BackendDescriptor | undefined {
  return modelPath === undefined ? undefined : backends.find((backend) => backend.claimsPath?.(modelPath, type) === true);
}

/**
 * The registry's factory for a backend: checks the model's files, then loads it with its own keys.
 * The config schema has already parsed those keys (defaults applied) into the model's config.
 */
export function backendFactory(descriptor: BackendDescriptor): BackendFactory {
  const keys = Object.keys(descriptor.modelOptionsSchema?.shape ?? {});
  return async (context) => {
    const problem = await descriptor.checkFiles?.(context.resolvedPath, context.config);
    if (problem !== undefined) throw new Error(problem);
    const fields = context.config as Record<string, unknown>;
    return descriptor.load({ ...context, modelOptions: Object.fromEntries(keys.map((key) => [key, fields[key]])) });
  };
}
