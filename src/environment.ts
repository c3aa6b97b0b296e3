// Every environment variable switchyard reads, read here and nowhere else.
export const environment = {
  /** Default for `--config`. */
  configPath: process.env.SWITCHYARD_CONFIG,
  /** Overrides `[logging] level`. */
  logLevel: process.env.SWITCHYARD_LOG_LEVEL,
  /** Overrides `[api] address`, as `--address` does. */
  address: process.env.SWITCHYARD_ADDRESS,
  /** The llama-server binary, when `[engines.llama_server] binary` names none. */
  llamaServerBinary: process.env.SWITCHYARD_LLAMA_SERVER || undefined,
  /**
   * The folder of the files the gateway writes (the response store's SQLite file), when the config
   * names none: the image sets it to its writable volume, whatever config is mounted.
   */
  dataDirectory: process.env.SWITCHYARD_DATA_DIR || undefined,
} as const;

/** Secrets named in the config (`api_key_env`) are looked up through this one function. */
export function readSecret(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}
