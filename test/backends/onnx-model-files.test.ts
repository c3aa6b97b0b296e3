// Finding the graph and tokenizer in an ONNX model folder.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadOnnxModel } from '../../src/backends/onnx/index.js';
import { locateOnnxModelFiles } from '../../src/backends/onnx/model-files.js';
import { modelSchema } from '../../src/config/schema.js';
import { createSilentLogger } from '../../src/logger.js';
import { models } from '../helpers/paths.js';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'config.json'];

/** Model files must resolve inside their folder, so the shared model's files are copied in. */
async function linkFolder(folder: string, graphs: string[], tokenizerFiles = TOKENIZER_FILES): Promise<void> {
  await mkdir(path.dirname(path.join(folder, graphs[0] ?? 'x')), { recursive: true });
  for (const graph of graphs) await copyFile(path.join(models.embedOnnx, 'model.onnx'), path.join(folder, graph));
  for (const file of tokenizerFiles) await copyFile(path.join(models.embedOnnx, file), path.join(folder, file));
}

describe('ONNX model folder', () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'switchyard-onnx-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  test('several .onnx files without `file` is an error listing them', async () => {
    const folder = path.join(scratch, 'several');
    await mkdir(folder);
    await linkFolder(folder, ['model.onnx', 'model_quantized.onnx']);
    await assert.rejects(locateOnnxModelFiles(folder, undefined), (error: Error) => {
      assert.match(error.message, /several \.onnx files/);
      assert.match(error.message, /model\.onnx, model_quantized\.onnx/);
      assert.match(error.message, /`file`/);
      return true;
    });
    const config = modelSchema.parse({ path: folder, type: 'embedding', intra_op_threads: 1, execution_providers: ['cpu'] });
    await assert.rejects(loadOnnxModel({ id: 'several', config, resolvedPath: folder, logger: createSilentLogger() }), /several \.onnx files/);
  });

  test('`file` picks one of several graphs, and a wrong `file` names what is there', async () => {
    const folder = path.join(scratch, 'chosen');
    await mkdir(folder);
    await linkFolder(folder, ['a.onnx', 'b.onnx']);
    const files = await locateOnnxModelFiles(folder, 'b.onnx');
    assert.equal(files.modelFile, path.join(folder, 'b.onnx'));
    assert.equal(files.tokenizerConfig?.tokenizer_class, 'BertTokenizer');
    assert.equal(files.modelConfig?.max_position_embeddings, 512);
    await assert.rejects(locateOnnxModelFiles(folder, 'c.onnx'), /a\.onnx, b\.onnx/);

    const config = modelSchema.parse({ path: folder, type: 'embedding', file: 'b.onnx', intra_op_threads: 1, execution_providers: ['cpu'] });
    const model = await loadOnnxModel({ id: 'chosen', config, resolvedPath: folder, logger: createSilentLogger() });
    assert.equal(model.info.adminDetails?.file, path.join(folder, 'b.onnx'));
    await model.dispose();
  });

  test('a graph in an onnx/ subfolder (the HF export layout) is found', async () => {
    const folder = path.join(scratch, 'hf-layout');
    await mkdir(path.join(folder, 'onnx'), { recursive: true });
    await linkFolder(folder, ['onnx/model.onnx']);
    const files = await locateOnnxModelFiles(folder, undefined);
    assert.equal(files.modelFile, path.join(folder, 'onnx', 'model.onnx'));
  });

  test('missing pieces are named', async () => {
    await assert.rejects(locateOnnxModelFiles(path.join(scratch, 'nowhere'), undefined), /does not exist/);
    const empty = path.join(scratch, 'empty');
    await mkdir(empty);
    await assert.rejects(locateOnnxModelFiles(empty, undefined), /holds no \.onnx file/);
    const noTokenizer = path.join(scratch, 'no-tokenizer');
    await mkdir(noTokenizer);
    await linkFolder(noTokenizer, ['model.onnx'], []);
    await assert.rejects(locateOnnxModelFiles(noTokenizer, undefined), /no tokenizer\.json/);
  });

  test('files resolve inside the folder: `file` with ../ and links leading out are refused, links inside are fine', async () => {
    const folder = path.join(scratch, 'contained');
    await linkFolder(folder, ['onnx/model.onnx']);
    await writeFile(path.join(scratch, 'outside.onnx'), 'not a graph');
    await assert.rejects(locateOnnxModelFiles(folder, '../outside.onnx'), /outside the model folder/);
    await assert.rejects(locateOnnxModelFiles(folder, path.join(scratch, 'outside.onnx')), /outside the model folder/);
    // A link inside the folder is fine.
    await symlink(path.join(folder, 'onnx', 'model.onnx'), path.join(folder, 'linked.onnx'));
    assert.equal((await locateOnnxModelFiles(folder, 'linked.onnx')).modelFile, path.join(folder, 'linked.onnx'));
    // A link that leads out is not, for the graph or any file read.
    await symlink(path.join(scratch, 'outside.onnx'), path.join(folder, 'out.onnx'));
    await assert.rejects(locateOnnxModelFiles(folder, 'out.onnx'), /out\.onnx" resolves outside the model folder/);
    await rm(path.join(folder, 'config.json'));
    await symlink('/etc/hostname', path.join(folder, 'config.json'));
    await assert.rejects(locateOnnxModelFiles(folder, 'linked.onnx'), (error: Error) => {
      assert.match(error.message, /config\.json" resolves outside the model folder/);
      return true;
    });
  });

  test('a Hugging Face cache snapshot, whose files link into ../../blobs, loads', async () => {
    const repository = path.join(scratch, 'hub', 'models--org--tiny');
    const snapshot = path.join(repository, 'snapshots', '0123abcd');
    await mkdir(path.join(repository, 'blobs'), { recursive: true });
    await mkdir(snapshot, { recursive: true });
    for (const [index, file] of ['model.onnx', ...TOKENIZER_FILES].entries()) {
      await copyFile(path.join(models.embedOnnx, file), path.join(repository, 'blobs', `blob${index}`));
      await symlink(`../../blobs/blob${index}`, path.join(snapshot, file));
    }
    const files = await locateOnnxModelFiles(snapshot, undefined);
    assert.equal(files.modelFile, path.join(snapshot, 'model.onnx'));
    // A link out of the cached repository is still refused.
    await symlink('/etc/hostname', path.join(snapshot, 'sentence_bert_config.json'));
    await assert.rejects(locateOnnxModelFiles(snapshot, undefined), /resolves outside the model folder/);
  });

  test('a file that is not JSON is named without quoting its content', async () => {
    const folder = path.join(scratch, 'not-json');
    await linkFolder(folder, ['model.onnx'], ['tokenizer.json']);
    await writeFile(path.join(folder, 'config.json'), 'root:x:0:0:root:/root:/bin/bash\n');
    await assert.rejects(locateOnnxModelFiles(folder, undefined), (error: Error) => {
      assert.match(error.message, /config\.json" is not valid JSON/);
      assert.doesNotMatch(error.message, /root:x/);
      return true;
    });
  });

  test('tokenizer.json alone (no tokenizer_config.json) is enough', async () => {
    const folder = path.join(scratch, 'bare-tokenizer');
    await mkdir(folder);
    await linkFolder(folder, ['model.onnx'], ['tokenizer.json', 'config.json']);
    const config = modelSchema.parse({ path: folder, type: 'embedding', intra_op_threads: 1, execution_providers: ['cpu'] });
    const model = await loadOnnxModel({ id: 'bare', config, resolvedPath: folder, logger: createSilentLogger() });
    try {
      assert.equal(model.embedding?.maxInputTokens, 512, 'from config.json max_position_embeddings');
      assert.deepEqual(await model.tokenizer!.tokenize('Hello world!', { addSpecialTokens: true }), [101, 7592, 2088, 999, 102]);
    } finally {
      await model.dispose();
    }
  });
});
