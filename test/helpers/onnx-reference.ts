// A direct computation to compare the gateway's vectors with: the model's own tokenizer
// (transformers.js), a plain onnxruntime-node session, masked pooling and L2 normalisation
// written out here, nothing shared with the adapter.
import path from 'node:path';
import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { models } from './paths.js';

/** [CLS] content [SEP] rows, right-padded, through a plain session: last_hidden_state and lengths. */
export class OnnxReference {
  private constructor(
    readonly tokenizer: PreTrainedTokenizer,
    private readonly session: ort.InferenceSession,
  ) {}

  static async create(): Promise<OnnxReference> {
    env.allowRemoteModels = false;
    const tokenizer = await AutoTokenizer.from_pretrained(models.embedOnnx, { local_files_only: true });
    const session = await ort.InferenceSession.create(path.join(models.embedOnnx, 'model.onnx'), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    return new OnnxReference(tokenizer, session);
  }

  ids(text: string): number[] {
    return this.tokenizer(text, { return_tensor: false }).input_ids;
  }

  async hidden(rows: number[][]): Promise<{ hidden: Float32Array; width: number; longest: number }> {
    const longest = Math.max(...rows.map((row) => row.length));
    const ids = new BigInt64Array(rows.length * longest);
    const mask = new BigInt64Array(rows.length * longest);
    rows.forEach((row, r) =>
      row.forEach((id, j) => {
        ids[r * longest + j] = BigInt(id);
        mask[r * longest + j] = 1n;
      }),
    );
    const dims = [rows.length, longest];
    const output = await this.session.run({
      input_ids: new ort.Tensor('int64', ids, dims),
      attention_mask: new ort.Tensor('int64', mask, dims),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(rows.length * longest), dims),
    });
    const state = output.last_hidden_state;
    return { hidden: state.data as Float32Array, width: state.dims[2], longest };
  }

  async embed(rows: number[][], pooling: 'mean' | 'cls' | 'last', normalize: boolean): Promise<number[][]> {
    const { hidden, width, longest } = await this.hidden(rows);
    return rows.map((row, r) => {
      const at = (position: number, k: number) => hidden[(r * longest + position) * width + k];
      const vector = Array.from({ length: width }, (_, k) => {
        if (pooling === 'cls') return at(0, k);
        if (pooling === 'last') return at(row.length - 1, k);
        let sum = 0;
        for (let position = 0; position < row.length; position++) sum += at(position, k);
        return sum / row.length;
      });
      if (!normalize) return vector;
      const norm = Math.hypot(...vector);
      return vector.map((value) => value / norm);
    });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
