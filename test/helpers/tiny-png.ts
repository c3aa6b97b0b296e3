// Small real PNG images for image-input tests: RGB pixels of a seeded pattern, written with
// node's zlib (no image library), so any decoder (stb_image in llama.cpp) reads them.
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Int32Array.from({ length: 256 }, (_, index) => {
  let crc = index;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  return crc;
});

function crc32(bytes: Buffer): number {
  let crc = -1;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/** A width × height RGB PNG of pseudo-random pixels (noise does not compress: the size is about 3 bytes a pixel). */
export function tinyPng(width: number, height: number, seed = 1): Buffer {
  let state = seed >>> 0 || 1;
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3); // filter byte 0: none
    for (let x = 1; x < row.length; x++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      row[x] = state & 0xff;
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The PNG as the data URL an `image_url` content part carries. */
export function pngDataUrl(width = 16, height = 16, seed = 1): string {
  return `data:image/png;base64,${tinyPng(width, height, seed).toString('base64')}`;
}
