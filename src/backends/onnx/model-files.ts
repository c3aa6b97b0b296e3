// Finds the files of an ONNX model folder: the graph, the tokenizer and the optional configs.
// Every failure names the folder and what an operator can change. Every file read must resolve,
// links followed, inside the folder: a model folder from elsewhere could otherwise make the
// gateway read any file (a tokenizer_config.json linked to /etc/passwd), and a parse error would
// quote it. Errors never quote a file's content.
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
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
  const realFolder = containmentRoot(await realpath(folder));
  const optional = ['tokenizer_config.json', 'config.json', 'sentence_bert_config.json'].map((name) => path.join(folder, name));
  for (const file of [modelFile, tokenizerJsonFile, ...optional]) await assertInsideFolder(file, folder, realFolder);
  const [tokenizerConfig, modelConfig, sentenceTransformersConfig] = await Promise.all(optional.map(readOptionalJson));
  return { folder, modelFile, tokenizerJsonFile, tokenizerConfig, modelConfig, sentenceTransformersConfig };
}

/**
 * The folder model files must resolve inside: the model's own, or, for a snapshot of the Hugging
 * Face cache (`models--org--name/snapshots/REVISION`, whose files are links into `../../blobs`),
 * the cached repository that holds both.
 */
function containmentRoot(realFolder: string): string {
  const parent = path.dirname(realFolder);
  return path.basename(parent) === 'snapshots' && path.basename(path.dirname(parent)).startsWith('models--') ? path.dirname(parent) : realFolder;
}

/**
 * Throws unless `file` (when it exists) resolves, links followed, inside the model folder. A
 * graph shared by several folders can be hard-linked, or the folder itself be a link.
 */
async function assertInsideFolder(file: string, folder: string, realFolder: string): Promise<void> {
  const real = await realpath(file).catch(() => undefined);
  if (real !== undefined && !isInside(realFolder, real)) {
    throw new Error(`"${file}" resolves outside the model folder "${folder}"; model files must be inside it (copy or hard-link them there)`);
  }
}

/** Whether `target` lies below `folder` (both absolute). A name that merely begins with ".." is inside. */
function isInside(folder: string, target: string): boolean {
  const relative = path.relative(folder, target);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

async function chooseGraph(folder: string, file: string | undefined): Promise<string> {
  const candidates = await listGraphs(folder);
  if (file !== undefined) {
    const chosen = path.resolve(folder, file);
    if (!isInside(folder, chosen)) {
      throw new Error(`ONNX file "${chosen}" (the model's \`file\` setting) is outside the model folder "${folder}"; give a name inside it`);
    }
    if (await isFile(chosen)) return chosen;
    const available = candidates.length > 0 ? `; it holds ${candidates.join(', ')}` : '';
    throw new Error(`ONNX file "${file}" (the model's \`file\` setting) is not in "${folder}"${available}`);
  }
  if (candidates.length === 1) return path.join(folder, candidates[0]);
  if (candidates.length === 0) throw new Error(`ONNX model folder "${folder}" holds no .onnx file`);
  throw new Error(
    `ONNX model folder "${folder}" holds several .onnx files (${candidates.join(', ')}); ` + `set \`file\` in the model's config to the one to load`,
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
  // Symbolic links count (model.onnx → onnx/model_quantized.onnx); where they lead is checked later.
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
    // V8's message quotes the text ("Unexpected token 'r', "root:x:0:0"... is not valid JSON"):
    // only its position is kept.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new Error(`"${file}" is not valid JSON${position === undefined ? '' : ` (at character ${position})`}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`"${file}" does not hold a JSON object`);
  return value as JsonObject;
}
