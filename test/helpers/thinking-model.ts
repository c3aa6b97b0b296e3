// A chat model with thinking segments for tests, since none of ../shared/models has one:
// stories260K.gguf with a Qwen3-Thinking style Jinja template added as `tokenizer.chat_template`
// (as tool-model.ts adds its template). The reply opens with `<think>\n` (the generation prompt
// writes it, as Qwen3-Thinking-2507 and DeepSeek-R1-0528 do), so even this random tiny model starts
// every reply inside a thought; `enable_thinking = false` closes the thought in the prompt instead
// (Qwen3's switch). Past turns keep only their answer, and a `reasoning_content` given with one is
// rendered in its <think> segment: that is what llama.cpp's template analysis keys on to find the
// markers, and node-llama-cpp finds the <think> pair in the template text.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { models } from './paths.js';
import { withStringKey } from './tool-model.js';

export const THINKING_CHAT_TEMPLATE = `{%- for message in messages %}
    {%- if message.role == "user" or message.role == "system" %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- elif '</think>' in content %}
            {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
            {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
        {%- endif %}
        {%- if loop.last and reasoning_content %}
            {{- '<|im_start|>assistant\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') + '<|im_end|>\\n' }}
        {%- else %}
            {{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- else %}
        {{- '<think>\\n' }}
    {%- endif %}
{%- endif %}
`;

/** Writes the thinking stories260K into a fresh temporary folder and returns its path. */
export async function writeThinkingModel(template = THINKING_CHAT_TEMPLATE): Promise<string> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'switchyard-thinking-model-'));
  const file = path.join(folder, 'stories260K-thinking.gguf');
  await writeFile(file, withStringKey(await readFile(models.stories), 'tokenizer.chat_template', template));
  return file;
}
