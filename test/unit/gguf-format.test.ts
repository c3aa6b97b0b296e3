// The GGUF reader and writer that test fixtures and benchmarks derive models with: a file taken
// apart and written again is the same file, byte for byte, so a derived model differs from its
// source only where it was changed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { encodeGguf, encodeGgufFile, ggufKeyValue, readGguf, readGgufMetadata } from '../helpers/gguf-format.js';
import { models } from '../helpers/paths.js';

describe('GGUF files taken apart and written again', () => {
  test('an F16 model (llama-2-tiny-random) and an F32 one (stories260K) come back byte for byte', () => {
    for (const file of [models.tinyRandomLlama, models.stories]) {
      const source = readFileSync(file);
      const parsed = readGguf(source);
      assert.ok(parsed.tensors.length > 0 && parsed.keyValues.length > 0);
      assert.ok(encodeGgufFile(parsed).equals(source), file);
    }
  });

  test('an entry replaced changes that value alone; tensors keep names, shapes, types and data', () => {
    const source = readFileSync(models.tinyRandomLlama);
    const parsed = readGguf(source);
    const written = encodeGgufFile({
      ...parsed,
      keyValues: parsed.keyValues.map((entry) => (entry.key === 'llama.block_count' ? ggufKeyValue('llama.block_count', { u32: 5 }) : entry)),
    });
    const before = readGgufMetadata(source);
    const after = readGgufMetadata(written);
    assert.equal(before.get('llama.block_count'), 1);
    assert.equal(after.get('llama.block_count'), 5);
    assert.deepEqual(
      [...after].filter(([key]) => key !== 'llama.block_count'),
      [...before].filter(([key]) => key !== 'llama.block_count'),
    );
    const again = readGguf(written);
    assert.deepEqual(
      again.tensors.map(({ name, dims, type }) => ({ name, dims, type })),
      parsed.tensors.map(({ name, dims, type }) => ({ name, dims, type })),
    );
    again.tensors.forEach((tensor, index) => assert.ok(tensor.data.equals(parsed.tensors[index].data), tensor.name));
  });

  test('F32 files from encodeGguf read back; a tensor type it cannot size is refused by name', () => {
    const bytes = encodeGguf({ 'general.architecture': 'test' }, [{ name: 'w', dims: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }]);
    const [tensor] = readGguf(bytes).tensors;
    assert.deepEqual(
      Array.from(new Float32Array(tensor.data.buffer.slice(tensor.data.byteOffset, tensor.data.byteOffset + tensor.data.length))),
      [1, 2, 3, 4, 5, 6],
    );
    // Q8_0: blocks of 32 weights in 34 bytes, which a copy by element size cannot cut out.
    const quantized = encodeGgufFile({ keyValues: [], tensors: [{ name: 'q', dims: [32], type: 8, data: Buffer.alloc(34) }], alignment: 32 });
    assert.throws(() => readGguf(quantized), /tensor q: ggml type 8/);
  });
});
