// The cost of an ambiguous recursive grammar on the real engine, and that the gateway refuses it.
// `x ::= "a" x "b" | "a" x "c" | "d"`: llama.cpp keeps one parse stack per way of reading the text,
// and every "a" doubles them. llama.cpp runs it in a child process (a native step cannot be
// interrupted, and node-llama-cpp catches SIGTERM), steered to write "a"s, at most MAX_TOKENS tokens
// and DEADLINE_MS in all, then killed with SIGKILL. Usage: npm run build, then
// `node dist/bench/ambiguous-grammar.js [max tokens ≤ 11]`.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { checkGrammar } from '../src/backends/llama/grammar-checks.js';

const GRAMMAR = 'root ::= x\nx ::= "a" x "b" | "a" x "c" | "d"';
const MAX_TOKENS = Math.min(11, Number(process.argv[process.argv[2] === '--child' ? 3 : 2] ?? 11));
const DEADLINE_MS = 90_000;
const MODEL = path.resolve(process.cwd(), '..', 'shared', 'models', 'stories260k', 'stories260K.gguf');

async function generateInChild(): Promise<void> {
  const { getLlama, LlamaCompletion, TokenBias } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, logLevel: 'error' as never });
  const model = await llama.loadModel({ modelPath: MODEL });
  const context = await model.createContext({ contextSize: 256, threads: 1 });
  const grammar = await llama.createGrammar({ grammar: GRAMMAR });
  const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
  const bias = new TokenBias(model.tokenizer);
  bias.set('a', 50);
  let last = performance.now();
  let tokens = 0;
  await completion.generateCompletion('Once upon a time', {
    grammar,
    maxTokens: MAX_TOKENS,
    temperature: 0,
    tokenBias: bias,
    onToken: (generated) => {
      const now = performance.now();
      tokens += generated.length;
      console.log(JSON.stringify({ token: tokens, text: model.detokenize(generated), ms: Math.round(now - last) }));
      last = now;
    },
  });
}

async function main(): Promise<void> {
  const verdict = checkGrammar(GRAMMAR);
  console.log(`gateway: ${verdict.kind}${verdict.kind === 'accepted' ? '' : ` (${verdict.reason})`}`);
  console.log(`llama.cpp without the check, ${MAX_TOKENS} tokens at most, killed after ${DEADLINE_MS / 1000} s:`);
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', String(MAX_TOKENS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
  const started = performance.now();
  for await (const line of readline.createInterface({ input: child.stdout! })) {
    const { token, text, ms } = JSON.parse(line) as { token: number; text: string; ms: number };
    console.log(
      `  token ${String(token).padStart(2)} ${JSON.stringify(text).padEnd(6)} ${String(ms).padStart(7)} ms   (${((performance.now() - started) / 1000).toFixed(1)} s in all)`,
    );
  }
  clearTimeout(timer);
  child.kill('SIGKILL');
}

if (process.argv[2] === '--child') {
  await generateInChild();
} else {
  await main();
}
