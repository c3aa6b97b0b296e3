// A vision projector for tests, since ../shared/models has none: a random-weight LLaVA-style
// projector (clip.cpp's projector type "mlp") that llama-server loads with `--mmproj FILE` beside
// a tiny text model. A ViT of two blocks over 32×32 images in 8×8 patches (16 image tokens), then
// the two-layer MLP whose output size is the text model's embedding length, which mtmd checks.
// The weights are seeded noise: the model "sees" nothing, but every step of image input runs
// (decoding, preprocessing, encoding, the image tokens in the prompt).
//
// As a script: node dist/test/helpers/tiny-mmproj.js TEXT_MODEL.gguf OUT.gguf
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { encodeGguf, normalRandom, readGgufMetadata, type GgufTensor } from './gguf-format.js';

export interface TinyMmproj {
  file: string;
  /** The projector's output size: the text model's embedding length. */
  projectionDim: number;
  /** Tokens one image takes in the prompt. */
  imageTokens: number;
}

const IMAGE_SIZE = 32;
const PATCH_SIZE = 8;
const VIT_EMBD = 16;
const VIT_HEADS = 2;
const VIT_FF = 32;
const VIT_BLOCKS = 2;
const MLP_HIDDEN = 32;

/** The embedding length of a text model (`<architecture>.embedding_length`). */
export async function textEmbeddingLength(textModel: string): Promise<number> {
  const metadata = readGgufMetadata(await readFile(textModel));
  const architecture = metadata.get('general.architecture');
  const length = metadata.get(`${String(architecture)}.embedding_length`);
  if (typeof length !== 'number') throw new Error(`${textModel}: no ${String(architecture)}.embedding_length`);
  return length;
}

/** The projector's GGUF bytes for a text model of embedding length `projectionDim`. */
export function tinyMmprojBytes(projectionDim: number, seed = 11): Buffer {
  const random = normalRandom(seed);
  const noise = (...dims: number[]): GgufTensor['data'] => Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => 0.05 * random());
  const ones = (length: number) => new Float32Array(length).fill(1);
  const zeros = (length: number) => new Float32Array(length);
  const patches = (IMAGE_SIZE / PATCH_SIZE) ** 2;
  const tensors: GgufTensor[] = [
    // A convolution kernel per output channel: [kernel width, kernel height, input channels, output channels].
    { name: 'v.patch_embd.weight', dims: [PATCH_SIZE, PATCH_SIZE, 3, VIT_EMBD], data: noise(PATCH_SIZE, PATCH_SIZE, 3, VIT_EMBD) },
    { name: 'v.patch_embd.bias', dims: [VIT_EMBD], data: zeros(VIT_EMBD) },
    { name: 'v.position_embd.weight', dims: [VIT_EMBD, patches], data: noise(VIT_EMBD, patches) },
  ];
  for (let block = 0; block < VIT_BLOCKS; block++) {
    const linear = (name: string, inputs: number, outputs: number) => [
      { name: `v.blk.${block}.${name}.weight`, dims: [inputs, outputs], data: noise(inputs, outputs) },
      { name: `v.blk.${block}.${name}.bias`, dims: [outputs], data: zeros(outputs) },
    ];
    const norm = (name: string) => [
      { name: `v.blk.${block}.${name}.weight`, dims: [VIT_EMBD], data: ones(VIT_EMBD) },
      { name: `v.blk.${block}.${name}.bias`, dims: [VIT_EMBD], data: zeros(VIT_EMBD) },
    ];
    tensors.push(
      ...norm('ln1'),
      ...linear('attn_q', VIT_EMBD, VIT_EMBD),
      ...linear('attn_k', VIT_EMBD, VIT_EMBD),
      ...linear('attn_v', VIT_EMBD, VIT_EMBD),
      ...linear('attn_out', VIT_EMBD, VIT_EMBD),
      ...norm('ln2'),
      ...linear('ffn_up', VIT_EMBD, VIT_FF),
      ...linear('ffn_down', VIT_FF, VIT_EMBD),
    );
  }
  tensors.push(
    { name: 'mm.0.weight', dims: [VIT_EMBD, MLP_HIDDEN], data: noise(VIT_EMBD, MLP_HIDDEN) },
    { name: 'mm.0.bias', dims: [MLP_HIDDEN], data: zeros(MLP_HIDDEN) },
    { name: 'mm.2.weight', dims: [MLP_HIDDEN, projectionDim], data: noise(MLP_HIDDEN, projectionDim) },
    { name: 'mm.2.bias', dims: [projectionDim], data: zeros(projectionDim) },
  );
  return encodeGguf(
    {
      'general.architecture': 'clip',
      'general.name': 'tiny-mmproj',
      'general.description': 'random-weight LLaVA-style vision projector for tests',
      'clip.projector_type': 'mlp',
      'clip.has_vision_encoder': true,
      'clip.vision.image_size': { u32: IMAGE_SIZE },
      'clip.vision.patch_size': { u32: PATCH_SIZE },
      'clip.vision.embedding_length': { u32: VIT_EMBD },
      'clip.vision.feed_forward_length': { u32: VIT_FF },
      'clip.vision.block_count': { u32: VIT_BLOCKS },
      'clip.vision.projection_dim': { u32: projectionDim },
      'clip.vision.attention.head_count': { u32: VIT_HEADS },
      'clip.vision.attention.layer_norm_epsilon': { f32: 1e-5 },
      'clip.vision.image_mean': { f32s: [0.5, 0.5, 0.5] },
      'clip.vision.image_std': { f32s: [0.5, 0.5, 0.5] },
    },
    tensors,
  );
}

/** Writes a projector matching `textModel` into a fresh temporary folder (or to `file`). */
export async function writeTinyMmproj(textModel: string, file?: string): Promise<TinyMmproj> {
  const projectionDim = await textEmbeddingLength(textModel);
  const target = file ?? path.join(await mkdtemp(path.join(os.tmpdir(), 'switchyard-mmproj-')), 'tiny-mmproj.gguf');
  await writeFile(target, tinyMmprojBytes(projectionDim));
  return { file: target, projectionDim, imageTokens: (IMAGE_SIZE / PATCH_SIZE) ** 2 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [textModel, file] = process.argv.slice(2);
  if (!textModel || !file) {
    console.error('usage: node dist/test/helpers/tiny-mmproj.js TEXT_MODEL.gguf OUT.gguf');
    process.exit(2);
  }
  const written = await writeTinyMmproj(textModel, file);
  console.log(`${written.file}: projection ${written.projectionDim}, ${written.imageTokens} tokens an image`);
}
