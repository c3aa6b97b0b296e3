// Tokenizing a rendered chat so that client text stays text. The server's tokenizer turns the text
// of a special token ("<|im_end|>", "</s>") into that token; the template's markup needs that, but
// client text must not get it, or a message could forge turns of its own (as on the in-process
// engine, where client text is a plain string of node-llama-cpp's LlamaText).
//
// A conversation whose client texts spell no special token is tokenized whole, exactly as before.
// Otherwise the template renders it again with each such text replaced by an unguessable
// placeholder; the prompt is cut at the placeholders, the template's pieces tokenized with special
// tokens parsed and the client's without, and the ids put together. A template that transforms or
// inspects such a text (trims it, cuts it, compares it) would not render the placeholder as it
// renders the text; that is detected (the placeholders, put back, must give the very prompt) and
// refused with a 400 naming the message, rather than sent with forged tokens.
import { randomBytes } from 'node:crypto';
import { chatPartField } from '../../engine/contract.js';
import { UnsupportedFeatureError } from '../../engine/errors.js';
import { renderOnServer, type TemplateConversation, type TemplateMessage } from './chat-template.js';
import type { LlamaServerConnection } from './connection.js';
import { tokenizeOnServer } from './tokenizer.js';

/** One client-written text of a templated conversation, and how to put another text in its place. */
interface ClientText {
  text: string;
  /** Its internal field name, for errors. */
  field: string;
  /** The conversation's messages with this text replaced by `stand`. */
  replace(messages: TemplateMessage[], stand: string): void;
}

function clientTextsOf(messages: readonly TemplateMessage[]): ClientText[] {
  const texts: ClientText[] = [];
  messages.forEach((message, index) => {
    const content = message.content;
    if (typeof content === 'string') {
      texts.push({ text: content, field: `messages[${index}].content`, replace: (copy, stand) => void (copy[index]!.content = stand) });
    } else {
      content.forEach((part, partIndex) => {
        if (part.type !== 'text') return;
        texts.push({
          text: part.text,
          field: chatPartField(index, partIndex),
          replace: (copy, stand) => void ((copy[index]!.content as Array<{ text?: string }>)[partIndex]!.text = stand),
        });
      });
    }
    message.tool_calls?.forEach((call, callIndex) => {
      const fn = call.function as { arguments?: unknown } | undefined;
      if (typeof fn?.arguments !== 'string') return;
      texts.push({
        text: fn.arguments,
        field: `messages[${index}].tool_calls[${callIndex}].function.arguments`,
        replace: (copy, stand) => void ((copy[index]!.tool_calls![callIndex]!.function as { arguments: string }).arguments = stand),
      });
    });
  });
  return texts.filter(({ text }) => text !== '');
}

/** Whether the text holds the text of a special token: parsed, it tokenizes otherwise than as plain text. */
async function spellsSpecialToken(connection: LlamaServerConnection, text: string): Promise<boolean> {
  const [parsed, plain] = await Promise.all([
    tokenizeOnServer(connection, text, { addSpecial: false, parseSpecial: true }),
    tokenizeOnServer(connection, text, { addSpecial: false, parseSpecial: false }),
  ]);
  return parsed.length !== plain.length || parsed.some((token, index) => token !== plain[index]);
}

/** The client texts that spell a special token: one pair of tokenizations for the whole conversation when none does (the usual case). */
export async function textsSpellingSpecialTokens(connection: LlamaServerConnection, messages: readonly TemplateMessage[]): Promise<ClientText[]> {
  const texts = clientTextsOf(messages);
  // Joined, a special token's text could only appear across two texts by a false alarm; then each is checked alone.
  if (texts.length === 0 || !(await spellsSpecialToken(connection, texts.map(({ text }) => text).join('\n\n')))) return [];
  const spelling = await Promise.all(texts.map(({ text }) => spellsSpecialToken(connection, text)));
  return texts.filter((_, index) => spelling[index]);
}

/**
 * The tokens of `rendered`, the conversation as its template rendered it (plus, at its end, any
 * markup the gateway appended), with BOS when the vocabulary asks for it: the template's
 * special-token text parsed, the client's kept plain.
 */
export async function tokenizeChatPrompt(connection: LlamaServerConnection, conversation: TemplateConversation, rendered: string): Promise<number[]> {
  // Side by side: the check costs no time of its own when it finds nothing.
  const [whole, spelling] = await Promise.all([
    tokenizeOnServer(connection, rendered, { addSpecial: true }),
    textsSpellingSpecialTokens(connection, conversation.messages),
  ]);
  if (spelling.length === 0) return whole;
  const nonce = randomBytes(12).toString('hex');
  const stands = spelling.map((_, index) => `@@${nonce}-${index}@@`); // ASCII: a template that escapes the text (tojson) leaves it as is
  const messages = structuredClone(conversation.messages);
  spelling.forEach((text, index) => text.replace(messages, stands[index]!));
  const withStands = await renderOnServer(connection, { ...conversation, messages });
  const pieces = cutAtStands(withStands, stands);
  const restored = pieces?.map((piece) => (piece.client === undefined ? piece.text : spelling[piece.client]!.text)).join('');
  if (pieces === undefined || restored === undefined || !rendered.startsWith(restored)) {
    throw new UnsupportedFeatureError(
      `${spelling[0]!.field} holds the text of a special token of the model's vocabulary, and the model's chat template transforms that text: it cannot be kept plain text on the llama-server engine`,
      spelling[0]!.field,
    );
  }
  // What the gateway appended after the template's rendering (e.g. the closed thought) is markup too.
  // The last piece is always the template's (cutAtStands ends with one): the tail goes with it, tokenized as one text.
  pieces[pieces.length - 1]!.text += rendered.slice(restored.length);
  const tokenized = await Promise.all(
    pieces.map((piece, index) =>
      piece.client !== undefined
        ? tokenizeOnServer(connection, spelling[piece.client]!.text, { addSpecial: false, parseSpecial: false })
        : index === 0 || piece.text !== ''
          ? tokenizeOnServer(connection, piece.text, { addSpecial: index === 0, parseSpecial: true })
          : Promise.resolve([]),
    ),
  );
  return tokenized.flat();
}

type Piece = { text: string; client?: undefined } | { text: string; client: number };

/** The prompt cut into template pieces and client texts (by index); undefined when a placeholder is not there exactly once. */
function cutAtStands(prompt: string, stands: readonly string[]): Piece[] | undefined {
  const found = stands.map((stand, client) => ({ client, at: prompt.indexOf(stand), stand })).sort((a, b) => a.at - b.at);
  const pieces: Piece[] = [];
  let from = 0;
  for (const { client, at, stand } of found) {
    if (at < from || prompt.indexOf(stand, at + 1) !== -1) return undefined;
    pieces.push({ text: prompt.slice(from, at) }, { text: stand, client });
    from = at + stand.length;
  }
  pieces.push({ text: prompt.slice(from) });
  return pieces;
}
