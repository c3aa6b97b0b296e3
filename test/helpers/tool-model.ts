// A tool-capable chat model for tests, since none of ../shared/models has a template that lists
// tools: stories260K.gguf with a Qwen-2.5 (Hermes) style Jinja template added as
// `tokenizer.chat_template`, the way stories260k-chatml was made (../shared/tools/gguf_tool.py
// add-kv): tools listed as JSON in <tools> in the system prompt, calls written as
// <tool_call>{"name": …, "arguments": …}</tool_call>, results given back in <tool_response>.
// Every other key and all tensor data are copied unchanged; only the key-value count, the new key
// and the padding before the (re-aligned) data differ.
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { align, GGUF_TYPE, GgufReader, ggufString, u32 } from './gguf-format.js';
import { models } from './paths.js';

/** Qwen-2.5's template (as published with Qwen2.5-*-Instruct), with its default system line shortened. */
export const TOOL_CHAT_TEMPLATE = `{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
`;

/** A copy of the GGUF in `source` with one more string key (gguf_tool.py add-kv). */
export function withStringKey(source: Buffer, key: string, value: string): Buffer {
  const reader = new GgufReader(source);
  let alignment = 32;
  for (let index = reader.keyValueCount; index > 0; index--) {
    const name = reader.string();
    const type = reader.u32();
    if (name === key) throw new Error(`the GGUF already has ${key}`);
    if (name === 'general.alignment' && type === GGUF_TYPE.uint32) alignment = source.readUInt32LE(reader.at);
    reader.skipValue(type);
  }
  const keyValuesEnd = reader.at;
  for (let index = reader.tensorCount; index > 0; index--) {
    reader.string();
    const dimensions = reader.u32();
    reader.at += dimensions * 8 + 4 + 8;
  }
  const infosEnd = reader.at;
  const dataStart = align(infosEnd, alignment);
  const header = Buffer.from(source.subarray(0, 24));
  header.writeBigUInt64LE(BigInt(reader.keyValueCount + 1), 16);
  const info = Buffer.concat([
    header,
    source.subarray(24, keyValuesEnd),
    ggufString(key),
    u32(GGUF_TYPE.string),
    ggufString(value),
    source.subarray(keyValuesEnd, infosEnd),
  ]);
  return Buffer.concat([info, Buffer.alloc(align(info.length, alignment) - info.length), source.subarray(dataStart)]);
}

/** One folder per test process for the fixtures, removed when the process exits (they are ~1 MB each). */
let folder: string | undefined;
const written = new Map<string, Promise<string>>();

function fixtureFolder(): string {
  if (folder === undefined) {
    const created = mkdtempSync(path.join(os.tmpdir(), 'switchyard-tool-model-'));
    process.once('exit', () => rmSync(created, { recursive: true, force: true }));
    folder = created;
  }
  return folder;
}

/** The tool-capable stories260K with `template`, written once per process; returns its path. */
export function writeToolModel(template = TOOL_CHAT_TEMPLATE): Promise<string> {
  let file = written.get(template);
  if (file === undefined) {
    const target = path.join(fixtureFolder(), `stories260K-tools-${written.size}.gguf`);
    file = readFile(models.stories).then(async (source) => {
      await writeFile(target, withStringKey(source, 'tokenizer.chat_template', template));
      return target;
    });
    written.set(template, file);
  }
  return file;
}
