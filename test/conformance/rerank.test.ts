// The rerank conformance suite over every backend that serves /v1/rerank. Adding an engine: one line
// in TARGETS, with the features it has.
import { writeGgufReranker } from '../helpers/gguf-reranker.js';
import { models } from '../helpers/paths.js';
import { rerankConformance, type RerankFeatures } from './rerank-conformance.js';
import type { ConformanceTarget } from './conformance-target.js';
import { llamaServerTargets, serveLocal, serveRemote } from './served-model.js';

const MAX_INPUTS = 4;

const ONNX_RERANK = `
path = "${models.rerankOnnx}"
type = "rerank"
execution_providers = ["cpu"]
intra_op_threads = 1
max_inputs = ${MAX_INPUTS}
`;

// ../shared/models has no GGUF reranker: the helper writes one from tiny-bert-embed-gguf.
async function llamaRerank(): Promise<string> {
  const { file } = await writeGgufReranker();
  return `
path = "${file}"
type = "rerank"
threads = 1
max_inputs = ${MAX_INPUTS}
`;
}

const FEATURES: RerankFeatures = { maxInputs: MAX_INPUTS };

const TARGETS: Array<ConformanceTarget<RerankFeatures>> = [
  { name: 'onnx', features: FEATURES, start: () => serveLocal(ONNX_RERANK) },
  { name: 'llama', features: FEATURES, start: async () => serveLocal(await llamaRerank()) },
  ...llamaServerTargets({ name: 'llama-server', features: FEATURES, start: async () => serveLocal(`backend = "llama-server"${await llamaRerank()}`) }),
  { name: 'remote (to onnx)', features: FEATURES, start: () => serveRemote(ONNX_RERANK, `type = "rerank"\nmax_inputs = ${MAX_INPUTS}`) },
];

for (const target of TARGETS) rerankConformance(target);
