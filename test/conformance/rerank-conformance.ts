// What every backend serving /v1/rerank must do, checked through the HTTP API. The openai SDK has no
// rerank method, so requests are raw JSON posts.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { checksFor, serveDuringSuite, type ConformanceTarget } from './conformance-target.js';
import { assertBadRequest, postJson } from './openai-responses.js';

export interface RerankFeatures {
  /** The model's `max_inputs`, as configured by the target: one more document is a 400. */
  maxInputs: number;
}

interface RerankResult {
  index: number;
  relevance_score: number;
  document?: { text: string };
}

interface RerankBody {
  id: string;
  object: string;
  model: string;
  results: RerankResult[];
  usage: { prompt_tokens: number; total_tokens: number };
}

const QUERY = 'pets';
const DOCUMENTS = ['A cat sat on the mat.', 'Stocks fell today.', 'Dogs and cats are pets.', 'The weather is sunny.'];
const TOLERANCE = 1e-4;

export function rerankConformance(target: ConformanceTarget<RerankFeatures>): void {
  const { features } = target;
  describe(`rerank conformance: ${target.name}`, () => {
    const { check, verifyKnownFailures } = checksFor(target);
    const served = serveDuringSuite(target);
    const rerank = async (body: Record<string, unknown>): Promise<RerankBody> => {
      const response = await postJson(served, '/v1/rerank', { model: served.model, query: QUERY, documents: DOCUMENTS, ...body });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body as RerankBody;
    };
    const scoreOf = (body: RerankBody, index: number) => body.results.find((result) => result.index === index)!.relevance_score;

    check('every document once, sorted by relevance_score best first, scores between 0 and 1', async () => {
      const body = await rerank({});
      assert.equal(typeof body.id, 'string');
      assert.equal(body.object, 'list');
      assert.equal(body.model, served.model);
      assert.deepEqual(body.results.map((result) => result.index).sort(), [0, 1, 2, 3]);
      for (const result of body.results) assert.ok(result.relevance_score > 0 && result.relevance_score < 1, `score ${result.relevance_score}`);
      for (let position = 1; position < body.results.length; position++) {
        assert.ok(body.results[position - 1].relevance_score >= body.results[position].relevance_score, 'best first');
      }
      assert.ok(new Set(body.results.map((result) => result.relevance_score)).size > 1, 'scores differ across documents');
    });

    check('indexes refer to the input order: each score is the document scored alone, whatever the order', async () => {
      const together = await rerank({});
      const reversed = await rerank({ documents: [...DOCUMENTS].reverse() });
      for (const [index, document] of DOCUMENTS.entries()) {
        const alone = await rerank({ documents: [document] });
        assert.deepEqual(
          alone.results.map((result) => result.index),
          [0],
        );
        const score = scoreOf(together, index);
        assert.ok(Math.abs(alone.results[0].relevance_score - score) <= TOLERANCE, `${document}: ${alone.results[0].relevance_score} alone, ${score} together`);
        assert.ok(Math.abs(scoreOf(reversed, DOCUMENTS.length - 1 - index) - score) <= TOLERANCE, `${document}: reversed`);
      }
    });

    check('top_n keeps the best n, in the same order', async () => {
      const all = await rerank({});
      const top = await rerank({ top_n: 2 });
      assert.deepEqual(
        top.results.map((result) => result.index),
        all.results.slice(0, 2).map((result) => result.index),
      );
      const beyond = await rerank({ top_n: DOCUMENTS.length + 3 });
      assert.equal(beyond.results.length, DOCUMENTS.length, 'top_n beyond the documents returns them all');
    });

    check('return_documents gives each result its document text, strings and {text} objects alike; otherwise none', async () => {
      const documents = [DOCUMENTS[0], { text: DOCUMENTS[1] }, DOCUMENTS[2]];
      const withDocuments = await rerank({ documents, return_documents: true });
      for (const result of withDocuments.results) assert.equal(result.document?.text, DOCUMENTS[result.index]);
      const without = await rerank({ documents });
      for (const result of without.results) assert.equal(result.document, undefined);
    });

    check('usage counts the tokens of every (query, document) pair, and the total is the prompt', async () => {
      const together = await rerank({});
      assert.ok(Number.isInteger(together.usage.prompt_tokens) && together.usage.prompt_tokens > 0);
      assert.equal(together.usage.total_tokens, together.usage.prompt_tokens);
      const alone = await Promise.all(DOCUMENTS.map((document) => rerank({ documents: [document] })));
      assert.equal(
        together.usage.prompt_tokens,
        alone.reduce((sum, body) => sum + body.usage.prompt_tokens, 0),
      );
    });

    check('more documents than max_inputs is a 400 naming documents', async () => {
      const documents = Array.from({ length: features.maxInputs + 1 }, (_, index) => `document ${index}`);
      assertBadRequest(await postJson(served, '/v1/rerank', { model: served.model, query: QUERY, documents }), { param: 'documents' });
      assert.equal((await rerank({ documents: documents.slice(1) })).results.length, features.maxInputs);
    });

    check('a bad parameter value is a 400 naming it, in the OpenAI envelope', async () => {
      for (const [patch, param] of [
        [{ query: '' }, 'query'],
        [{ documents: [] }, 'documents'],
        [{ documents: [3] }, 'documents[0]'],
        [{ top_n: 0 }, 'top_n'],
      ] as const) {
        assertBadRequest(await postJson(served, '/v1/rerank', { model: served.model, query: QUERY, documents: DOCUMENTS, ...patch }), { param });
      }
    });

    check('the model on an endpoint of another type is a 400 model_type_mismatch', async () => {
      assertBadRequest(await postJson(served, '/v1/embeddings', { model: served.model, input: 'Hi' }), { param: 'model', code: 'model_type_mismatch' });
      assertBadRequest(await postJson(served, '/v1/chat/completions', { model: served.model, messages: [{ role: 'user', content: 'Hi' }] }), {
        param: 'model',
        code: 'model_type_mismatch',
      });
    });

    verifyKnownFailures();
  });
}
