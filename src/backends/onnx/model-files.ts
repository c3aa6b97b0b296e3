// Finds the files of an ONNX model folder: the graph, the tokenizer and the optional configs.
// Every failure names the folder and what an operator can change.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

export type JsonObject = Record<string, unknown>;

export interface OnnxModelFiles {
  /** Absolute folder holding tokenizer.json and the configs. */
  folder: string;
  /** Absolute path of the .onnx graph. */
  modelFile: string;
  tokenizerJsonFile: string;
  /** tokenizer_config.json, when present. */
  tokenizerConfig?: JsonObject;
  /** config.json (the transformers model config), when present. */
  modelConfig?: JsonObject;
  /** sentence_bert_config.json (sentence-transformers), when present. */
  sentenceTransformersConfig?: JsonObject;
}

/**
 * `resolvedPath` is a folder (or the .onnx file itself). Without `file`, the folder must hold
 * exactly one .onnx file; HF exports that keep graphs in an `onnx/` subfolder are found too.
 */
export async function locateOnnxModelFiles(resolvedPath: string, file: string | undefined): Promise<OnnxModelFiles> {
  const target = path.resolve(resolvedPath);
  const targetStat = await stat(target).catch(() => undefined);
  if (targetStat === undefined) throw new Error(`ONNX model path "${target}" does not exist`);

  let folder: string;
  let modelFile: string;
  if (targetStat.isFile()) {
    if (!target.endsWith('.onnx')) throw new Error(`ONNX model path "${target}" is a file but not an .onnx file; give the model's folder`);
    folder = path.dirname(target);
    modelFile = target;
  } else {
    folder = target;
    modelFile = await chooseGraph(folder, file);
  }

  const tokenizerJsonFile = path.join(folder, 'tokenizer.json');
  if (!(await isFile(tokenizerJsonFile))) {
    throw new Error(`ONNX model folder "${folder}" has no tokenizer.json (the fast-tokenizer file of the model is required)`);
  }
  const [tokenizerConfig, modelConfig, sentenceTransformersConfig] = await Promise.all([
    readOptionalJson(path.join(folder, 'tokenizer_config.json')),
    readOptionalJson(path.join(folder, 'config.json')),
    readOptionalJson(path.join(folder, 'sentence_bert_config.json')),
  ]);
  return { folder, modelFile, tokenizerJsonFile, tokenizerConfig, modelConfig, sentenceTransformersConfig };
}

async function chooseGraph(folder: string, file: string | undefined): Promise<string> {
  const candidates = await listGraphs(folder);
  if (file !== undefined) {
    const chosen = path.resolve(folder, file);
    if (await isFile(chosen)) return chosen;
    const available = candidates.length > 0 ? `; it holds ${candidates.join(', ')}` : '';
    throw new Error(`ONNX file "${file}" (the model's \`file\` setting) is not in "${folder}"${available}`);
  }
  if (candidates.length === 1) return path.join(folder, candidates[0]);
  if (candidates.length === 0) throw new Error(`ONNX model folder "${folder}" holds no .onnx file`);
  throw new Error(
    `ONNX model folder "${folder}" holds several .onnx files (${candidates.join(', ')}); ` +
      `set \`file\` in the model's config to the one to load`,
  );
}

/** Names relative to `folder`, sorted, from the folder itself or else its `onnx/` subfolder. */
async function listGraphs(folder: string): Promise<string[]> {
  const direct = await onnxFilesIn(folder);
  if (direct.length > 0) return direct;
  return (await onnxFilesIn(path.join(folder, 'onnx'))).map((name) => `onnx/${name}`);
}

async function onnxFilesIn(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  // Symbolic links count: operators often link one shared graph into several model folders.
  return entries
    .filter((entry) => entry.name.endsWith('.onnx') && (entry.isFile() || entry.isSymbolicLink()))
    .map((entry) => entry.name)
    .sort();
}

async function isFile(file: string): Promise<boolean> {
  const info = await stat(file).catch(() => undefined);
  return info?.isFile() === true;
}

async function readOptionalJson(file: string): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`"${file}" is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`"${file}" does not hold a JSON object`);
  return value as JsonObject;
}
