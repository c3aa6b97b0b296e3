// The pieces of the GGUF v3 format the test fixtures and benchmarks write and read: value types,
// little-endian encoders, a metadata reader, a whole-file writer of F32 tensors, a reader and writer
// of whole files to copy with changes (F32/F16/BF16 tensors), and seeded random weights.
// Layout: "GGUF", version, tensor count, key-value count, the key-values, the tensor infos
// (name, dimensions innermost first, type, offset in the data), then the data, each tensor
// aligned to `general.alignment` (32 by default).

export const GGUF_TYPE = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;
export const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
export const GGML_F32 = 0;
const DEFAULT_ALIGNMENT = 32;

export function align(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

export function ggufString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([u64(bytes.length), bytes]);
}

export function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

export function u64(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(value));
  return buffer;
}

function f32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeFloatLE(value);
  return buffer;
}

/** A metadata value to write: its type is chosen from the JavaScript type (numbers as u32 unless `float`). */
export type GgufValue = string | boolean | { u32: number } | { f32: number } | { f32s: number[] } | { i32s: number[] };

function encodeValue(value: GgufValue): Buffer {
  if (typeof value === 'string') return Buffer.concat([u32(GGUF_TYPE.string), ggufString(value)]);
  if (typeof value === 'boolean') return Buffer.concat([u32(GGUF_TYPE.bool), Buffer.from([value ? 1 : 0])]);
  if ('u32' in value) return Buffer.concat([u32(GGUF_TYPE.uint32), u32(value.u32)]);
  if ('f32' in value) return Buffer.concat([u32(GGUF_TYPE.float32), f32(value.f32)]);
  const [itemType, items] = 'f32s' in value ? [GGUF_TYPE.float32, value.f32s.map(f32)] : [GGUF_TYPE.int32, value.i32s.map((item) => u32(item >>> 0))];
  return Buffer.concat([u32(GGUF_TYPE.array), u32(itemType), u64(items.length), ...items]);
}

export interface GgufTensor {
  name: string;
  /** ggml's order: the innermost (contiguous) dimension first. */
  dims: number[];
  data: Float32Array;
}

/** A whole GGUF v3 file of F32 tensors. */
export function encodeGguf(metadata: Record<string, GgufValue>, tensors: readonly GgufTensor[]): Buffer {
  return encodeGgufFile({
    keyValues: Object.entries(metadata).map(([key, value]) => ggufKeyValue(key, value)),
    tensors: tensors.map((tensor) => {
      const elements = tensor.dims.reduce((product, dim) => product * dim, 1);
      if (elements !== tensor.data.length) throw new Error(`tensor ${tensor.name}: ${tensor.data.length} values for dimensions ${tensor.dims.join('×')}`);
      return { name: tensor.name, dims: tensor.dims, type: GGML_F32, data: Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength) };
    }),
    alignment: DEFAULT_ALIGNMENT,
  });
}

/** One metadata entry as the file holds it. */
export interface GgufKeyValue {
  key: string;
  type: number;
  /** The whole entry: key, value type and value. */
  bytes: Buffer;
}

/** A tensor of any type whose elements are whole bytes (F32, F16, BF16), with its data. */
export interface GgufRawTensor {
  name: string;
  /** ggml's order: the innermost (contiguous) dimension first. */
  dims: number[];
  /** ggml type id (GGML_F32, GGML_F16, ...). */
  type: number;
  data: Buffer;
}

/** A GGUF file taken apart: its entries and tensors in file order, to copy and change. */
export interface GgufFile {
  keyValues: GgufKeyValue[];
  tensors: GgufRawTensor[];
  alignment: number;
}

export const GGML_F16 = 1;
const GGML_BF16 = 30;
const ELEMENT_BYTES: Record<number, number> = { [GGML_F32]: 4, [GGML_F16]: 2, [GGML_BF16]: 2 };

export function ggufKeyValue(key: string, value: GgufValue): GgufKeyValue {
  const encoded = encodeValue(value);
  return { key, type: encoded.readUInt32LE(0), bytes: Buffer.concat([ggufString(key), encoded]) };
}

/** Writes `file`: its entries as they are, its tensors aligned to `file.alignment` in the order given. */
export function encodeGgufFile(file: GgufFile): Buffer {
  const header = Buffer.concat([Buffer.from('GGUF', 'latin1'), u32(3), u64(file.tensors.length), u64(file.keyValues.length)]);
  const infos: Buffer[] = [];
  const data: Buffer[] = [];
  let offset = 0;
  for (const tensor of file.tensors) {
    infos.push(ggufString(tensor.name), u32(tensor.dims.length), ...tensor.dims.map(u64), u32(tensor.type), u64(offset));
    const padded = align(tensor.data.length, file.alignment);
    data.push(tensor.data, Buffer.alloc(padded - tensor.data.length));
    offset += padded;
  }
  const info = Buffer.concat([header, ...file.keyValues.map((entry) => entry.bytes), ...infos]);
  return Buffer.concat([info, Buffer.alloc(align(info.length, file.alignment) - info.length), ...data]);
}

/** Takes a GGUF v3 file apart (tensor data are views into `buffer`); only F32, F16 and BF16 tensors. */
export function readGguf(buffer: Buffer): GgufFile {
  const reader = new GgufReader(buffer);
  const keyValues: GgufKeyValue[] = [];
  let alignment = DEFAULT_ALIGNMENT;
  for (let index = reader.keyValueCount; index > 0; index--) {
    const start = reader.at;
    const key = reader.string();
    const type = reader.u32();
    if (key === 'general.alignment' && type === GGUF_TYPE.uint32) alignment = buffer.readUInt32LE(reader.at);
    reader.skipValue(type);
    keyValues.push({ key, type, bytes: buffer.subarray(start, reader.at) });
  }
  const infos: Array<{ name: string; dims: number[]; type: number; offset: number }> = [];
  for (let index = reader.tensorCount; index > 0; index--) {
    const name = reader.string();
    const dims = Array.from({ length: reader.u32() }, () => {
      const dim = Number(buffer.readBigUInt64LE(reader.at));
      reader.at += 8;
      return dim;
    });
    const type = reader.u32();
    const offset = Number(buffer.readBigUInt64LE(reader.at));
    reader.at += 8;
    infos.push({ name, dims, type, offset });
  }
  const dataStart = align(reader.at, alignment);
  const tensors = infos.map(({ name, dims, type, offset }) => {
    const elementBytes = ELEMENT_BYTES[type];
    if (elementBytes === undefined) throw new Error(`tensor ${name}: ggml type ${type} is not one this reader copies (F32, F16, BF16)`);
    const start = dataStart + offset;
    return { name, dims, type, data: buffer.subarray(start, start + dims.reduce((product, dim) => product * dim, elementBytes)) };
  });
  return { keyValues, tensors, alignment };
}

/** Reads a GGUF buffer front to back: `at` moves past each string and value read or skipped. */
export class GgufReader {
  constructor(
    readonly buffer: Buffer,
    /** Where the key-values begin, after the header. */
    public at = 24,
  ) {
    if (buffer.toString('latin1', 0, 4) !== 'GGUF' || buffer.readUInt32LE(4) !== 3) throw new Error('expected a GGUF v3 file');
  }

  get tensorCount(): number {
    return Number(this.buffer.readBigUInt64LE(8));
  }

  get keyValueCount(): number {
    return Number(this.buffer.readBigUInt64LE(16));
  }

  string(): string {
    const length = Number(this.buffer.readBigUInt64LE(this.at));
    const text = this.buffer.toString('utf8', this.at + 8, this.at + 8 + length);
    this.at += 8 + length;
    return text;
  }

  u32(): number {
    const value = this.buffer.readUInt32LE(this.at);
    this.at += 4;
    return value;
  }

  skipValue(type: number): void {
    if (type === GGUF_TYPE.string) this.string();
    else if (type === GGUF_TYPE.array) {
      const itemType = this.u32();
      const count = Number(this.buffer.readBigUInt64LE(this.at));
      this.at += 8;
      for (let item = 0; item < count; item++) this.skipValue(itemType);
    } else this.at += SCALAR_BYTES[type];
  }
}

const SCALAR_READERS: Record<number, (buffer: Buffer, at: number) => number | bigint | boolean> = {
  0: (buffer, at) => buffer.readUInt8(at),
  1: (buffer, at) => buffer.readInt8(at),
  2: (buffer, at) => buffer.readUInt16LE(at),
  3: (buffer, at) => buffer.readInt16LE(at),
  4: (buffer, at) => buffer.readUInt32LE(at),
  5: (buffer, at) => buffer.readInt32LE(at),
  6: (buffer, at) => buffer.readFloatLE(at),
  7: (buffer, at) => buffer.readUInt8(at) !== 0,
  10: (buffer, at) => buffer.readBigUInt64LE(at),
  11: (buffer, at) => buffer.readBigInt64LE(at),
  12: (buffer, at) => buffer.readDoubleLE(at),
};

/** The scalar and string metadata of a GGUF file (arrays are skipped). */
export function readGgufMetadata(buffer: Buffer): Map<string, number | bigint | boolean | string> {
  const reader = new GgufReader(buffer);
  const metadata = new Map<string, number | bigint | boolean | string>();
  for (let index = reader.keyValueCount; index > 0; index--) {
    const key = reader.string();
    const type = reader.u32();
    if (type === GGUF_TYPE.string) metadata.set(key, reader.string());
    else if (type === GGUF_TYPE.array) reader.skipValue(type);
    else {
      metadata.set(key, SCALAR_READERS[type](buffer, reader.at));
      reader.skipValue(type);
    }
  }
  return metadata;
}

/** Standard normal draws from a seeded generator (mulberry32 and Box-Muller): the same weights every run. */
export function normalRandom(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}
