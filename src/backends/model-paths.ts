// How the built-in backends recognise a model's path: by its name when the model names no backend
// (a .gguf file is llama's, anything else onnx's), and by its files before a load.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export function isGgufPath(modelPath: string): boolean {
  return modelPath.toLowerCase().endsWith('.gguf');
}

/** A GGUF model is one file. */
export async function checkGgufFile(resolvedPath: string): Promise<string | undefined> {
  const info = await stat(resolvedPath).catch(() => undefined);
  if (!info) return `model file not found: ${resolvedPath}`;
  if (info.isDirectory()) {
    const ggufFiles = (await readdir(resolvedPath).catch(() => [] as string[])).filter(isGgufPath);
    return `${resolvedPath} is a folder, expected a .gguf file${ggufFiles.length > 0 ? ` (it holds ${ggufFiles.join(', ')}: point path at one)` : ''}`;
  }
  return info.isFile() ? undefined : `${resolvedPath} is neither a file nor a folder`;
}

/** An ONNX model is a folder holding an .onnx graph (or `file`) and tokenizer.json. */
export async function checkOnnxFolder(resolvedPath: string, config: { file?: string }): Promise<string | undefined> {
  const info = await stat(resolvedPath).catch(() => undefined);
  if (!info) return `model file not found: ${resolvedPath}`;
  if (info.isFile())
    return `cannot tell the backend of ${resolvedPath}: expected a .gguf file or a folder holding an .onnx file and tokenizer.json (or set backend)`;
  if (!info.isDirectory()) return `${resolvedPath} is neither a file nor a folder`;
  const names = await readdir(resolvedPath).catch(() => [] as string[]);
  // Hugging Face exports keep their graphs in an onnx/ subfolder.
  const nested = names.includes('onnx') ? await readdir(path.join(resolvedPath, 'onnx')).catch(() => [] as string[]) : [];
  const hasOnnx = names.some((name) => name.endsWith('.onnx')) || nested.some((name) => name.endsWith('.onnx')) || config.file !== undefined;
  const hasTokenizer = names.includes('tokenizer.json');
  if (hasOnnx && hasTokenizer) return undefined;
  const ggufFiles = names.filter(isGgufPath);
  const missing = [hasOnnx ? undefined : 'an .onnx file', hasTokenizer ? undefined : 'tokenizer.json'].filter(Boolean).join(' and ');
  const hint = ggufFiles.length > 0 ? ` (it holds ${ggufFiles.join(', ')}: point path at the .gguf file)` : '';
  return `the folder ${resolvedPath} lacks ${missing}${hint}`;
}
