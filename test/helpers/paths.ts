// Where the shared test models live: ../shared/models beside the checkout (tests run from the
// repository root).
import path from 'node:path';

export const sharedModels = path.resolve(process.cwd(), '..', 'shared', 'models');

export function modelPath(relative: string): string {
  return path.join(sharedModels, relative);
}

export const models = {
  stories: modelPath('stories260k/stories260K.gguf'),
  storiesChatml: modelPath('stories260k-chatml/stories260K-chatml.gguf'),
  tinyRandomLlama: modelPath('llama-2-tiny-random/llama-2-tiny-random.gguf'),
  embedOnnx: modelPath('tiny-bert-embed'),
  embedGguf: modelPath('tiny-bert-embed-gguf/tiny-bert-embed.gguf'),
  rerankOnnx: modelPath('tiny-bert-reranker'),
  classifierOnnx: modelPath('tiny-distilbert-classifier'),
};
