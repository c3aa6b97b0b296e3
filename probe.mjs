import { callSyntaxOfTemplate } from './dist/src/backends/tool-calls/call-syntax.js';
import { toolCallGrammar } from './dist/src/backends/tool-calls/tool-call-grammar.js';
import { TOOL_CHAT_TEMPLATE } from './dist/test/helpers/tool-model.js';
const s = callSyntaxOfTemplate(TOOL_CHAT_TEMPLATE);
console.log(JSON.stringify(s));
for (const m of ['@', '#', '$', '|', '*', '~', '^']) {
  const t = TOOL_CHAT_TEMPLATE.replaceAll('\\n<tool_call>', '\\n' + m);
  try { console.log(m, JSON.stringify(callSyntaxOfTemplate(t))); } catch (e) { console.log(m, e.message); }
}
const g = await toolCallGrammar(s, { choice: { kind: 'required' }, parallel: true, definitions: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 12 }, days: { type: 'integer' } }, required: ['city','days'], additionalProperties: false } }] });
console.log(g);
