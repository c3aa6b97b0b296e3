// OpenAI `image_url` content parts → checked engine images. Only base64 data URLs are taken: the
// gateway never fetches a URL a client names (a remote URL would let any caller make the gateway
// reach hosts on its own network, and hold a slot while a slow server answers). Each image is
// checked here, before any model is involved: a media type the engines decode, bytes that really
// are of that type (the signature at their start), and the size limits of [api].
import type { ChatImage, ChatImageMediaType } from '../engine/contract.js';
import { errors } from '../errors.js';

export interface ImageLimits {
  /** Largest decoded image, in bytes (`[api] max_image_bytes`). */
  maxImageBytes: number;
  /** Most images in one request (`[api] max_images_per_request`). */
  maxImagesPerRequest: number;
}

/** The image limits of the `[api]` settings, as every route that takes images reads them. */
export function imageLimitsOf(api: { max_image_bytes: number; max_images_per_request: number }): ImageLimits {
  return { maxImageBytes: api.max_image_bytes, maxImagesPerRequest: api.max_images_per_request };
}

/** How each accepted type's bytes begin: a mislabelled or corrupt image is refused here, not by the engine. */
const SIGNATURES: Record<ChatImageMediaType, (head: Buffer) => boolean> = {
  'image/png': (head) => head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (head) => head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff,
  'image/webp': (head) => head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP',
  'image/gif': (head) => /^GIF8[79]a$/.test(head.toString('latin1', 0, 6)),
};

const MEDIA_TYPES = Object.keys(SIGNATURES) as ChatImageMediaType[];
const DETAILS = ['auto', 'low', 'high'] as const;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isMediaType(value: string): value is ChatImageMediaType {
  return (MEDIA_TYPES as string[]).includes(value);
}

/**
 * The image of one `{"type": "image_url", "image_url": {"url", "detail"}}` part. `param` is the
 * part's wire name (`messages[0].content[1]`); every refusal names the field at fault under it.
 */
export function imageOfPart(part: { image_url?: unknown }, param: string, limits: ImageLimits): ChatImage {
  const imageUrl = part.image_url;
  if (typeof imageUrl !== 'object' || imageUrl === null || Array.isArray(imageUrl))
    throw errors.invalidRequest(
      `Invalid type for '${param}.image_url': expected an object {"url": "data:image/png;base64,...", "detail": "auto"}.`,
      `${param}.image_url`,
    );
  const { url, detail } = imageUrl as { url?: unknown; detail?: unknown };
  if (detail != null && !DETAILS.includes(detail as (typeof DETAILS)[number]))
    throw errors.invalidRequest(`Invalid value for '${param}.image_url.detail': expected 'auto', 'low' or 'high'.`, `${param}.image_url.detail`);
  const urlParam = `${param}.image_url.url`;
  if (typeof url !== 'string') throw errors.invalidRequest(`Invalid type for '${urlParam}': expected a string.`, urlParam);
  return imageOfUrl(url, urlParam, limits, detail as ChatImage['detail'] | undefined);
}

/**
 * The image of a URL as a client gave it (a base64 data URL; a remote URL is refused). `urlParam`
 * is the URL's wire name: every refusal names it (the Anthropic route builds the data URL of an
 * image block's `source` and names that).
 */
export function imageOfUrl(url: string, urlParam: string, limits: ImageLimits, detail?: ChatImage['detail']): ChatImage {
  if (/^https?:\/\//i.test(url))
    throw errors.invalidRequest(
      `Remote image URLs are not accepted ('${urlParam}'): send the image itself as a base64 data URL (data:image/png;base64,...).`,
      urlParam,
      'unsupported_parameter',
    );
  // data:[<media type>][;<parameter>]*;base64,<data>
  const match = /^data:([^;,]*)((?:;[^;,]*)*),/i.exec(url);
  if (!match)
    throw errors.invalidRequest(`Invalid image URL at '${urlParam}': expected a base64 data URL (data:image/png;base64,...).`, urlParam, 'invalid_image');
  const mediaType = match[1].trim().toLowerCase();
  if (!isMediaType(mediaType))
    throw errors.invalidRequest(
      `Unsupported image type '${mediaType || '(none)'}' at '${urlParam}': expected one of ${MEDIA_TYPES.join(', ')}.`,
      urlParam,
      'invalid_image',
    );
  const parameters = match[2].toLowerCase().split(';').slice(1);
  if (parameters[parameters.length - 1] !== 'base64')
    throw errors.invalidRequest(`Invalid image URL at '${urlParam}': the data must be base64 (data:${mediaType};base64,...).`, urlParam, 'invalid_image');
  const data = url.slice(match[0].length);
  // The size is known from the length alone: an oversized image is refused before it is scanned.
  const byteLength = Math.floor((data.length * 3) / 4) - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0);
  if (byteLength > limits.maxImageBytes)
    throw errors.invalidRequest(
      `The image at '${urlParam}' is ${byteLength} bytes; this server takes images of at most ${limits.maxImageBytes} bytes (max_image_bytes).`,
      urlParam,
      'image_too_large',
    );
  if (data.length === 0 || data.length % 4 !== 0 || !BASE64.test(data))
    throw errors.invalidRequest(`Invalid image data at '${urlParam}': not valid base64.`, urlParam, 'invalid_image');
  if (!SIGNATURES[mediaType](Buffer.from(data.slice(0, 16), 'base64')))
    throw errors.invalidRequest(`Invalid image data at '${urlParam}': the bytes are not a ${mediaType} image.`, urlParam, 'invalid_image');
  return {
    mediaType,
    dataUrl: match[0] === `data:${mediaType};base64,` ? url : `data:${mediaType};base64,${data}`,
    byteLength,
    ...(detail != null ? { detail } : {}),
  };
}
