// The llama-server flags a model's keys become, and the flags `extra_args` may not hold.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  llamaServerModelArguments,
  llamaServerModelOptionsSchema,
  refusedExtraArgument,
  type LlamaServerLaunch,
} from '../../src/backends/llama-server/options.js';

function argumentsOf(type: LlamaServerLaunch['type'], keys: Record<string, unknown>, launch: Partial<LlamaServerLaunch> = {}): string[] {
  return llamaServerModelArguments({ type, modelPath: '/m.gguf', contextLength: 1024, options: llamaServerModelOptionsSchema.parse(keys), ...launch });
}

/** The value following `flag`, or undefined when the flag is absent. */
function valueOf(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index === -1 ? undefined : args[index + 1];
}

describe('llama-server flags', () => {
  test('the context is per sequence: llama-server gets context × parallel for its slots to share', () => {
    const args = argumentsOf('chat', { parallel: 3 });
    assert.equal(valueOf(args, '--ctx-size'), '3072');
    assert.equal(valueOf(args, '--parallel'), '3');
    assert.equal(valueOf(args, '--model'), '/m.gguf');
    // The defaults leave llama-server's own choices alone.
    for (const flag of ['--n-gpu-layers', '--threads', '--batch-size', '--jinja', '--embeddings', '--reranking']) assert.ok(!args.includes(flag), flag);
  });

  test('the llama keys map to their flags, and extra_args come last', () => {
    const args = argumentsOf('chat', { gpu_layers: 'max', threads: 2, batch_size: 256, chat_template: '{{ x }}', extra_args: ['--flash-attn', 'on'] });
    assert.equal(valueOf(args, '--n-gpu-layers'), 'all');
    assert.equal(valueOf(args, '--threads'), '2');
    assert.equal(valueOf(args, '--batch-size'), '256');
    assert.ok(args.includes('--jinja'));
    assert.equal(valueOf(args, '--chat-template'), '{{ x }}');
    assert.deepEqual(args.slice(-2), ['--flash-attn', 'on']);
    assert.equal(valueOf(argumentsOf('chat', { gpu_layers: 0 }), '--n-gpu-layers'), '0');
    assert.equal(valueOf(argumentsOf('chat', { threads: 0 }), '--threads'), undefined);
  });

  test('embedding and rerank models: their mode, pooling, and a batch as large as the context', () => {
    const embedding = argumentsOf('embedding', { pooling: 'cls' });
    assert.ok(embedding.includes('--embeddings'));
    assert.equal(valueOf(embedding, '--pooling'), 'cls');
    assert.equal(valueOf(embedding, '--batch-size'), '1024');
    assert.equal(valueOf(embedding, '--ubatch-size'), '1024');
    const rerank = argumentsOf('rerank', {});
    assert.ok(rerank.includes('--reranking') && !rerank.includes('--embeddings'));
  });

  test('mmproj and draft_model become --mmproj and --model-draft with their resolved paths', () => {
    const args = argumentsOf('chat', {}, { mmprojPath: '/p.gguf', draftModelPath: '/d.gguf' });
    assert.equal(valueOf(args, '--mmproj'), '/p.gguf');
    assert.equal(valueOf(args, '--model-draft'), '/d.gguf');
  });

  test('extra_args: flags the gateway owns are refused under every spelling llama.cpp reads', () => {
    for (const flag of ['--port', '--host', '--api-key', '--api_key', '-m', '--model', '--hf_repo', '--port=1', '--mmproj', '-md'])
      assert.ok(refusedExtraArgument(flag) !== undefined, flag);
    for (const argument of ['--flash-attn', 'on', '-ub', '512', '8080', '--cache-type-k', 'q8_0'])
      assert.equal(refusedExtraArgument(argument), undefined, argument);
    assert.match(refusedExtraArgument('--port')!, /--port is set by the gateway/);
  });
});
