// A GGUF reranker for tests, since ../shared/models has none: tiny-bert-embed's GGUF (the same
// encoder weights as the tiny-bert-embed ONNX model) with rank pooling and a classification head
// of known random weights appended. llama.cpp then scores a (query, document) pair as
//   logit = w2 · tanh(W · h[CLS] + b) + b2
// where h[CLS] is the encoder's first output row, which the ONNX model computes too (with every
// token type 0, as llama.cpp's BERT graph uses). So the test can check llama.cpp's scores.
//
// The GGUF v3 layout (header, key-values, tensor infos, aligned data) is copied byte for byte;
// only the tensor count, the pooling type and the four new tensors change.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { align, GGML_F32, GGUF_TYPE, GgufReader, ggufString, normalRandom, u32, u64 } from './gguf-format.js';
import { models } from './paths.js';

export interface RerankHead {
  hidden: number;
  /** W, hidden × hidden, row-major (row = output unit). */
  dense: Float32Array;
  denseBias: Float32Array;
  /** w2, one row of `hidden`. */
  output: Float32Array;
  outputBias: number;
}

export interface GgufReranker {
  file: string;
  head: RerankHead;
  /** The logit llama.cpp should produce for an encoder output row h[CLS]. */
  logit(cls: ArrayLike<number>): number;
}

const POOLING_RANK = 4;

/** Writes the reranker into a fresh temporary folder. */
export async function writeGgufReranker(seed = 7): Promise<GgufReranker> {
  const source = await readFile(models.embedGguf);
  const layout = scanGguf(source);
  const hidden = layout.hidden;
  const random = normalRandom(seed);
  // Standard deviation 1, as the ONNX reranker's head: scores then differ clearly across documents.
  const head: RerankHead = {
    hidden,
    dense: Float32Array.from({ length: hidden * hidden }, random),
    denseBias: Float32Array.from({ length: hidden }, random),
    output: Float32Array.from({ length: hidden }, random),
    outputBias: random(),
  };
  const tensors: Array<{ name: string; dims: number[]; data: Float32Array }> = [
    { name: 'cls.weight', dims: [hidden, hidden], data: head.dense },
    { name: 'cls.bias', dims: [hidden], data: head.denseBias },
    { name: 'cls.output.weight', dims: [hidden, 1], data: head.output },
    { name: 'cls.output.bias', dims: [1], data: Float32Array.of(head.outputBias) },
  ];

  const keyValues = Buffer.from(source.subarray(layout.keyValuesStart, layout.keyValuesEnd));
  keyValues.writeUInt32LE(POOLING_RANK, layout.poolingValueOffset - layout.keyValuesStart);
  const newInfos: Buffer[] = [];
  const newData: Buffer[] = [];
  let offset = align(layout.dataLength, layout.alignment);
  for (const tensor of tensors) {
    newInfos.push(ggufString(tensor.name), u32(tensor.dims.length), ...tensor.dims.map(u64), u32(GGML_F32), u64(offset));
    const bytes = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    newData.push(bytes, Buffer.alloc(align(bytes.length, layout.alignment) - bytes.length));
    offset += align(bytes.length, layout.alignment);
  }
  const header = Buffer.alloc(24);
  source.copy(header, 0, 0, 8);
  header.writeBigUInt64LE(BigInt(layout.tensorCount + tensors.length), 8);
  header.writeBigUInt64LE(BigInt(layout.keyValueCount), 16);
  const info = Buffer.concat([header, keyValues, source.subarray(layout.keyValuesEnd, layout.tensorInfosEnd), ...newInfos]);
  const data = source.subarray(layout.dataStart, layout.dataStart + layout.dataLength);
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'switchyard-gguf-reranker-')), 'tiny-bert-reranker.gguf');
  await writeFile(
    file,
    Buffer.concat([
      info,
      Buffer.alloc(align(info.length, layout.alignment) - info.length),
      data,
      Buffer.alloc(align(data.length, layout.alignment) - data.length),
      ...newData,
    ]),
  );

  return {
    file,
    head,
    logit(cls) {
      let logit = head.outputBias;
      for (let unit = 0; unit < hidden; unit++) {
        let sum = head.denseBias[unit];
        for (let k = 0; k < hidden; k++) sum += head.dense[unit * hidden + k] * cls[k];
        logit += head.output[unit] * Math.tanh(sum);
      }
      return logit;
    },
  };
}

interface GgufLayout {
  tensorCount: number;
  keyValueCount: number;
  keyValuesStart: number;
  keyValuesEnd: number;
  tensorInfosEnd: number;
  dataStart: number;
  dataLength: number;
  alignment: number;
  /** Where the u32 value of `bert.pooling_type` sits. */
  poolingValueOffset: number;
  hidden: number;
}

function scanGguf(buffer: Buffer): GgufLayout {
  const reader = new GgufReader(buffer);
  const { tensorCount, keyValueCount } = reader;
  let alignment = 32;
  let poolingValueOffset = -1;
  let hidden = 0;
  for (let index = 0; index < keyValueCount; index++) {
    const key = reader.string();
    const type = reader.u32();
    if (key === 'bert.pooling_type' && type === GGUF_TYPE.uint32) poolingValueOffset = reader.at;
    if (key === 'bert.embedding_length') hidden = buffer.readUInt32LE(reader.at);
    if (key === 'general.alignment') alignment = buffer.readUInt32LE(reader.at);
    reader.skipValue(type);
  }
  const keyValuesEnd = reader.at;
  let dataLength = 0;
  for (let index = 0; index < tensorCount; index++) {
    reader.string();
    const dimensions = reader.u32();
    let elements = 1;
    for (let dimension = 0; dimension < dimensions; dimension++) elements *= Number(buffer.readBigUInt64LE(reader.at + dimension * 8));
    reader.at += dimensions * 8;
    if (reader.u32() !== GGML_F32) throw new Error('expected F32 tensors only');
    dataLength = Math.max(dataLength, Number(buffer.readBigUInt64LE(reader.at)) + elements * 4);
    reader.at += 8;
  }
  if (poolingValueOffset < 0 || hidden === 0) throw new Error('expected a BERT GGUF with bert.pooling_type and bert.embedding_length');
  return {
    tensorCount,
    keyValueCount,
    keyValuesStart: 24,
    keyValuesEnd,
    tensorInfosEnd: reader.at,
    dataStart: align(reader.at, alignment),
    dataLength,
    alignment,
    poolingValueOffset,
    hidden,
  };
}
