// Decides which engine runs a model from its path, so operators need not say it.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { backendNames, type BackendName, type ModelConfig } from '../config/schema.js';

export interface BackendInference {
  /** Undefined when the path does not tell and no `backend` key is set. */
  backend?: BackendName;
  /** Why the model cannot be loaded as configured (missing file, unrecognised folder). */
  problem?: string;
}

export async function inferBackend(config: ModelConfig, resolvedPath: string): Promise<BackendInference> {
  // A plugin's backend checks what it needs when it loads.
  if (config.backend !== undefined && !(backendNames as readonly string[]).includes(config.backend)) return { backend: config.backend };
  const info = await stat(resolvedPath).catch(() => undefined);
  const guessed: BackendName | undefined = config.backend ?? (resolvedPath.toLowerCase().endsWith('.gguf') ? 'llama' : undefined);
  if (!info) return { backend: guessed, problem: `model file not found: ${resolvedPath}` };
  if (info.isFile()) {
    if (resolvedPath.toLowerCase().endsWith('.gguf') || config.backend === 'llama') return { backend: config.backend ?? 'llama' };
    return { backend: config.backend, problem: `cannot tell the backend of ${resolvedPath}: expected a .gguf file or a folder holding an .onnx file and tokenizer.json (or set backend)` };
  }
  if (info.isDirectory()) {
    const names = await readdir(resolvedPath).catch(() => [] as string[]);
    // Hugging Face exports keep their graphs in an onnx/ subfolder.
    const nested = names.includes('onnx') ? await readdir(path.join(resolvedPath, 'onnx')).catch(() => [] as string[]) : [];
    const hasOnnx = names.some((name) => name.endsWith('.onnx')) || nested.some((name) => name.endsWith('.onnx')) || config.file !== undefined;
    const hasTokenizer = names.includes('tokenizer.json');
    if (config.backend) return { backend: config.backend };
    if (hasOnnx && hasTokenizer) return { backend: 'onnx' };
    const ggufFiles = names.filter((name) => name.endsWith('.gguf'));
    const missing = [hasOnnx ? undefined : 'an .onnx file', hasTokenizer ? undefined : 'tokenizer.json'].filter(Boolean).join(' and ');
    const hint = ggufFiles.length > 0 ? ` (it holds ${ggufFiles.join(', ')}: point path at the .gguf file)` : '';
    return { problem: `the folder ${resolvedPath} lacks ${missing}${hint}` };
  }
  return { backend: guessed, problem: `${resolvedPath} is neither a file nor a folder` };
}
