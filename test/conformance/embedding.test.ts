// The embedding conformance suite over every backend that serves /v1/embeddings. Adding an engine:
// one line in TARGETS, with the features it has.
import { models } from '../helpers/paths.js';
import { embeddingConformance, type EmbeddingFeatures } from './embedding-conformance.js';
import type { ConformanceTarget } from './conformance-target.js';
import { llamaServerTargets, serveLocal, serveRemote } from './served-model.js';

const MAX_INPUTS = 4;

const ONNX_EMBEDDING = `
path = "${models.embedOnnx}"
type = "embedding"
execution_providers = ["cpu"]
intra_op_threads = 1
max_inputs = ${MAX_INPUTS}
`;

const LLAMA_EMBEDDING = `
path = "${models.embedGguf}"
type = "embedding"
threads = 1
max_inputs = ${MAX_INPUTS}
`;

// Both models share the all-MiniLM-L6-v2 WordPiece vocabulary: [CLS] hello world ! [SEP].
const FEATURES: EmbeddingFeatures = {
  vectorLength: 32,
  maxInputs: MAX_INPUTS,
  dimensions: true,
  tokenIds: { text: 'Hello world!', ids: [101, 7592, 2088, 999, 102] },
};

const TARGETS: Array<ConformanceTarget<EmbeddingFeatures>> = [
  { name: 'onnx', features: FEATURES, start: () => serveLocal(ONNX_EMBEDDING) },
  { name: 'llama', features: FEATURES, start: () => serveLocal(LLAMA_EMBEDDING) },
  ...llamaServerTargets({ name: 'llama-server', features: FEATURES, start: () => serveLocal(`backend = "llama-server"${LLAMA_EMBEDDING}`) }),
  { name: 'remote (to onnx)', features: FEATURES, start: () => serveRemote(ONNX_EMBEDDING, `type = "embedding"\nmax_inputs = ${MAX_INPUTS}`) },
];

for (const target of TARGETS) embeddingConformance(target);
