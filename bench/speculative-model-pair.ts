// A target model and a draft model that agree, derived from one GGUF, for measuring speculative
// decoding where it applies (random-weight models otherwise never agree with each other):
//   draft:  the source's first `draftBlocks` blocks
//   target: those same blocks, then more blocks up to `targetBlocks` whose output projections
//           (attn_output, ffn_down) are zero. Such a block adds nothing to the residual stream
//           (x + 0 = x, exactly), but costs what a real block costs: its weights are another of
//           the source's blocks, and llama.cpp multiplies by zeros as by anything else.
// Both end in the source's output norm and projection, so at temperature 0 the draft predicts the
// target's next token exactly (up to the rounding of batched against single-token matrix products).
// Everything else (tokenizer, hyperparameters) is copied; only the block count differs.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeGgufFile, ggufKeyValue, readGguf, readGgufMetadata, type GgufFile, type GgufRawTensor } from '../test/helpers/gguf-format.js';

/** What a model costs per generated token: the weights multiplied (all but the token embedding, which is looked up). */
export interface ModelCost {
  file: string;
  bytes: number;
  blocks: number;
  /** Parameters in total. */
  parameters: number;
  /** Parameters multiplied per token. */
  parametersPerToken: number;
}

export interface AgreeingPair {
  target: ModelCost;
  draft: ModelCost;
}

/** The tensors whose output a block adds to the residual stream: zero, the block changes nothing. */
const OUTPUT_PROJECTIONS = /^(attn_output|ffn_down)\.(weight|bias)$/;
const BLOCK_TENSOR = /^blk\.(\d+)\.(.+)$/;

export async function writeAgreeingPair(sourcePath: string, folder: string, targetBlocks: number, draftBlocks: number): Promise<AgreeingPair> {
  const source = await readFile(sourcePath);
  const metadata = readGgufMetadata(source);
  const blockCountKey = `${String(metadata.get('general.architecture'))}.block_count`;
  const sourceBlocks = Number(metadata.get(blockCountKey));
  if (!(draftBlocks >= 1 && draftBlocks <= sourceBlocks && targetBlocks > draftBlocks)) {
    throw new Error(`need 1 <= draft blocks (${draftBlocks}) <= the source's ${sourceBlocks} < target blocks (${targetBlocks})`);
  }
  const file = readGguf(source);
  const shared = file.tensors.filter((tensor) => !BLOCK_TENSOR.test(tensor.name));
  const blockTensors = (block: number) => file.tensors.filter((tensor) => BLOCK_TENSOR.exec(tensor.name)?.[1] === String(block));
  const firstBlocks = Array.from({ length: draftBlocks }, (_, block) => blockTensors(block)).flat();
  const silentBlocks = Array.from({ length: targetBlocks - draftBlocks }, (_, index) => {
    const block = draftBlocks + index;
    return blockTensors(block % sourceBlocks).map((tensor): GgufRawTensor => {
      const role = BLOCK_TENSOR.exec(tensor.name)![2];
      return { ...tensor, name: `blk.${block}.${role}`, data: OUTPUT_PROJECTIONS.test(role) ? Buffer.alloc(tensor.data.length) : tensor.data };
    });
  }).flat();
  const withBlocks = (blocks: number, tensors: GgufRawTensor[]): GgufFile => ({
    ...file,
    keyValues: file.keyValues.map((entry) => (entry.key === blockCountKey ? ggufKeyValue(blockCountKey, { u32: blocks }) : entry)),
    tensors,
  });
  const name = path.basename(sourcePath, '.gguf');
  const write = async (blocks: number, tensors: GgufRawTensor[]): Promise<ModelCost> => {
    const out = path.join(folder, `${name}-${blocks}-blocks${blocks > draftBlocks ? `-${draftBlocks}-real` : ''}.gguf`);
    await writeFile(out, encodeGgufFile(withBlocks(blocks, tensors)));
    return modelCost(out);
  };
  return {
    target: await write(targetBlocks, [...shared, ...firstBlocks, ...silentBlocks]),
    draft: await write(draftBlocks, [...shared, ...firstBlocks]),
  };
}

/** A GGUF's cost as `writeAgreeingPair` counts it, for models used as they are. */
export async function modelCost(file: string): Promise<ModelCost> {
  const buffer = await readFile(file);
  const metadata = readGgufMetadata(buffer);
  const { tensors } = readGguf(buffer);
  const elements = (tensor: GgufRawTensor) => tensor.dims.reduce((product, dim) => product * dim, 1);
  const parameters = tensors.reduce((sum, tensor) => sum + elements(tensor), 0);
  const embedding = tensors.filter((tensor) => tensor.name === 'token_embd.weight').reduce((sum, tensor) => sum + elements(tensor), 0);
  return {
    file,
    bytes: buffer.length,
    blocks: Number(metadata.get(`${String(metadata.get('general.architecture'))}.block_count`)),
    parameters,
    parametersPerToken: parameters - embedding,
  };
}
