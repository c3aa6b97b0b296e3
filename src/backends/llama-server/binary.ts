// Where the llama-server binary is and what it is: the one `[engines.llama_server] binary` names,
// else the one SWITCHYARD_LLAMA_SERVER names, else the one the install step compiled from the
// llama.cpp source node-llama-cpp ships. Its version is read once per path and shown in
// /v1/models metadata.
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { environment } from '../../environment.js';

/** What the install step (scripts/build-llama-server.mjs) writes, relative to the project's root. */
export const INSTALLED_BINARY = path.join('node_modules', '.cache', 'switchyard', 'llama-server', 'bin', 'llama-server');

/** The project's root: this module is dist/src/backends/llama-server/binary.js. */
const projectRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export type BinarySource = 'config' | 'environment' | 'install';

export interface LlamaServerBinary {
  path: string;
  /** Which setting named it, for messages. */
  source: BinarySource;
}

/** Why `file` cannot be run, or undefined when it can. */
export function unrunnableReason(file: string): string | undefined {
  let info;
  try {
    info = statSync(file);
  } catch {
    return `${file} does not exist`;
  }
  if (!info.isFile()) return `${file} is not a file`;
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return `${file} is not executable`;
  }
  return undefined;
}

/**
 * The binary to run, from the config's `binary` (relative to the config file's folder), the
 * environment, or the install step's output, in that order. Whether it can run is the caller's
 * to check (`unrunnableReason`); undefined when nothing names one and the install built none.
 */
export function locateLlamaServer(configured: string | undefined, configDirectory: string): LlamaServerBinary | undefined {
  if (configured !== undefined) return { path: path.resolve(configDirectory, configured), source: 'config' };
  if (environment.llamaServerBinary !== undefined) return { path: path.resolve(environment.llamaServerBinary), source: 'environment' };
  const installed = path.join(projectRoot, INSTALLED_BINARY);
  return unrunnableReason(installed) === undefined ? { path: installed, source: 'install' } : undefined;
}

/** The words an operator reads when no binary can be found. */
export const NO_BINARY_HINT =
  'no llama-server binary: set [engines.llama_server] binary, or the environment variable SWITCHYARD_LLAMA_SERVER, ' +
  `or let the install step build one (npm ci; it writes ${INSTALLED_BINARY})`;

/** How a binary describes itself (`--version`, `--list-devices`). */
export interface LlamaServerDescription {
  /** llama.cpp's build number and commit, e.g. "7000 (abc1234)"; "unknown" when it printed none. */
  version: string;
  /** The compiler and target it was built with, e.g. "cc (Debian 12.2.0) for x86_64-linux-gnu". */
  build?: string;
  /** The accelerators it can use, as llama.cpp names them ("CUDA0", "Vulkan0"); empty: CPU only. */
  devices: string[];
}

const DESCRIBE_TIMEOUT_MS = 30_000;
const descriptions = new Map<string, Promise<LlamaServerDescription>>();

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: DESCRIBE_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}`, { cause: error }));
      else resolve(`${stdout}\n${stderr}`);
    });
  });
}

async function describe(file: string): Promise<LlamaServerDescription> {
  const versionText = await run(file, ['--version']);
  const version = /^version:\s*(.+)$/m.exec(versionText)?.[1]?.trim() ?? 'unknown';
  const build = /^built with\s+(.+)$/m.exec(versionText)?.[1]?.trim();
  // Older builds lack --list-devices: they are then taken for CPU builds.
  const devicesText = await run(file, ['--list-devices']).catch(() => '');
  const listed = devicesText.split('Available devices:')[1] ?? '';
  const devices = [...listed.matchAll(/^\s+([A-Za-z][\w-]*\d*):/gm)].map((match) => match[1]);
  return { version, ...(build === undefined ? {} : { build }), devices };
}

/** What the binary at `file` is, asked once per path; a binary that cannot say cannot serve. */
export function describeLlamaServer(file: string): Promise<LlamaServerDescription> {
  let known = descriptions.get(file);
  if (known === undefined) {
    known = describe(file);
    descriptions.set(file, known);
    // A failure is not remembered: the binary may be replaced and the model loaded again.
    known.catch(() => descriptions.delete(file));
  }
  return known;
}

/** The device a model runs on: the binary's first accelerator ("cuda", "vulkan"), or "cpu" when it has none or no layer is offloaded. */
export function deviceOf(description: LlamaServerDescription, gpuLayers: number | 'auto' | 'max'): string {
  const first = description.devices[0];
  return first === undefined || gpuLayers === 0 ? 'cpu' : first.replace(/\d+$/, '').toLowerCase();
}
