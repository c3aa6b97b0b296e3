// Engine logs are data (issue 13, row 6): a client's grammar that llama.cpp cannot parse must not
// reach the process's output as raw lines; llama.cpp used to print it to stderr, so a newline and
// a JSON object in it forged a record in the gateway's log. Real llama.cpp, gateway as a process.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { models } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait-for.js';

const FORGED = '{"level":60,"time":1,"service":"switchyard","msg":"FORGED record"}';

describe('engine logs are data', () => {
  let gateway: GatewayProcess;
  const stdout: string[] = [];
  const stderr: string[] = [];
  before(async () => {
    gateway = await startGatewayProcess(
      `[api.models.story]\npath = "${models.stories}"\ntype = "chat"\nthreads = 1\nparallel = 1\n[logging]\nformat = "json"\n`,
    );
    gateway.child.stdout!.on('data', (chunk: Buffer) => stdout.push(...chunk.toString().split('\n')));
    gateway.child.stderr!.on('data', (chunk: Buffer) => stderr.push(...chunk.toString().split('\n')));
    await waitFor(async () => (await fetch(`${gateway.url}/ready`)).status === 200, 30_000, 'the model to load');
  });
  after(() => gateway.stop());

  test('a bad grammar holding a forged record is a 400, and no output line is anything but a gateway record', async () => {
    const grammars = [`root ::= "a" (\n${FORGED}\n`, `root ::= "a" {\n${FORGED}\n`, `${FORGED}\nroot ::= "a"`, `root ::= "a" x\n${FORGED}`];
    const messages: string[] = [];
    for (const grammar of grammars) {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'story', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, grammar }),
      });
      assert.equal(response.status, 400);
      const body = (await response.json()) as { error: { message: string; param: string } };
      assert.equal(body.error.param, 'grammar');
      messages.push(body.error.message);
    }
    // The access lines of those requests are written by now; give stderr a moment too.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const line of stdout.filter((text) => text !== '')) {
      const record = JSON.parse(line) as Record<string, unknown>;
      assert.notEqual(record.msg, 'FORGED record', line);
      assert.equal(record.service, 'switchyard', line);
    }
    assert.deepEqual(
      stderr.filter((line) => line.includes('FORGED')),
      [],
      'nothing of the grammar reached stderr',
    );
    // The client learns where its grammar went wrong.
    for (const message of messages) assert.match(message, /invalid GBNF grammar: .* at line \d+, column \d+/);
  });

  test('a left-recursive grammar (llama.cpp allocated until the process aborted) is a 400, and the gateway lives on', async () => {
    const grammar = 'root ::= expr\nexpr ::= term ("+" term)*\nterm ::= [0-9]+ | "("* ws expr ")" ws\nws ::= [ ]*';
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'story', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, grammar }),
    });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /left recursion: rule "expr"/);
    assert.equal(gateway.child.exitCode, null);
    assert.equal((await fetch(`${gateway.url}/health`)).status, 200);
  });
});
