// Special-token layouts and truncation arithmetic, without a model.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keepTokens, longestFirstLengths, readLayout } from '../../src/backends/onnx/sequence-layout.js';

const ids = (...values: number[]) => Int32Array.from(values);

describe('sequence layout', () => {
  test('a RoBERTa-style pair layout is read off a probe and rebuilt for other texts', () => {
    // <s> A </s></s> B </s>
    const layout = readLayout({ ids: [0, 11, 12, 2, 2, 21, 2], typeIds: [0, 0, 0, 0, 0, 0, 0] }, [ids(11, 12), ids(21)]);
    assert.equal(layout.specialCount, 4);
    const built = layout.assemble(ids(5), ids(6, 7, 8));
    assert.deepEqual(Array.from(built.ids), [0, 5, 2, 2, 6, 7, 8, 2]);
    assert.equal(built.typeIds, undefined, 'all-zero type ids are left out');
  });

  test('a BERT pair layout carries token types 0 then 1', () => {
    const layout = readLayout({ ids: [101, 7, 102, 8, 9, 102], typeIds: [0, 0, 0, 1, 1, 1] }, [ids(7), ids(8, 9)]);
    const built = layout.assemble(ids(1, 2), ids(3));
    assert.deepEqual(Array.from(built.ids), [101, 1, 2, 102, 3, 102]);
    assert.deepEqual(Array.from(built.typeIds!), [0, 0, 0, 0, 1, 1]);
  });

  test('output that is not specials around the text is refused', () => {
    assert.throws(() => readLayout({ ids: [101, 99, 102] }, [ids(7)]), /cannot find the text/);
  });

  test('longest_first cuts the longer side, or halves both, as Rust tokenizers do', () => {
    assert.deepEqual(longestFirstLengths(3, 10, 20), [3, 10]);
    assert.deepEqual(longestFirstLengths(3, 100, 20), [3, 17]);
    assert.deepEqual(longestFirstLengths(100, 3, 20), [17, 3]);
    assert.deepEqual(longestFirstLengths(30, 30, 21), [10, 11]);
    assert.deepEqual(longestFirstLengths(40, 30, 21), [11, 10]);
    assert.deepEqual(longestFirstLengths(40, 30, 20), [10, 10]);
  });

  test('keepTokens keeps the head, or the tail for left truncation', () => {
    assert.deepEqual(Array.from(keepTokens(ids(1, 2, 3, 4), 2, 'right')), [1, 2]);
    assert.deepEqual(Array.from(keepTokens(ids(1, 2, 3, 4), 2, 'left')), [3, 4]);
    assert.deepEqual(Array.from(keepTokens(ids(1, 2), 5, 'right')), [1, 2]);
  });
});
