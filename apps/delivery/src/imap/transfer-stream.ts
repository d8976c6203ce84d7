/**
 * Content-Transfer-Encoding removal over a chunk sequence (RFC 3516 BINARY of a large part),
 * byte for byte what @postern/mime's decodePartBody gives for the whole body at once.
 *
 * Both decoders are stateless between certain points of the input, so each chunk is decoded up
 * to the last such point with decodePartBody itself and only the short rest is carried over:
 * - base64 (RFC 2045 §6.8): after a multiple of four alphabet characters since the last "=",
 *   the bit accumulator is empty. Characters outside the alphabet are ignored by the decoder,
 *   so the carry keeps only the (at most three) alphabet characters: bounded.
 * - quoted-printable (RFC 2045 §6.7): a position is final when no "=" lies in the two bytes
 *   before it and it does not follow white space or CR (whose meaning depends on what comes
 *   next: "=XX", a soft line break, transport padding before a line end). The carry is the
 *   trailing run of such bytes: a few bytes in real mail, bounded only by the input in the
 *   pathological case of an endless run of white space.
 */
import { decodePartBody, type MimePart } from '@postern/mime';

const EQ = 0x3d;

const B64_ALPHABET = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_') B64_ALPHABET[c.charCodeAt(0)] = 1;

/** Where a base64 input can be cut, and the alphabet characters after that point. */
function base64Cut(input: Buffer): { cut: number; rest: Buffer } {
  let count = 0;
  let cut = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as number;
    if (B64_ALPHABET[c] === 1) {
      count++;
      if ((count & 3) === 0) cut = i + 1;
    } else if (c === EQ) {
      count = 0;
      cut = i + 1;
    }
  }
  const rest: number[] = [];
  for (let i = cut; i < input.length; i++) if (B64_ALPHABET[input[i] as number] === 1) rest.push(input[i] as number);
  return { cut, rest: Buffer.from(rest) };
}

/** Where a quoted-printable input can be cut (see the module comment). */
function qpCut(input: Buffer): number {
  let cut = input.length;
  for (;;) {
    const c = input[cut - 1];
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === EQ) cut--;
    else if (cut >= 2 && input[cut - 2] === EQ) cut -= 2;
    else return cut;
  }
}

/**
 * The decoded body of `part` from the chunks of its raw body. Throws UnknownEncodingError (from
 * @postern/mime) on the first step for an encoding it cannot undo.
 */
export function* decodeChunks(chunks: Iterable<Buffer>, part: MimePart): Generator<Buffer> {
  const decode = (raw: Buffer): Buffer => decodePartBody(raw, { ...part, bodyStart: 0, bodyEnd: raw.length });
  const encoding = part.encoding;
  if (encoding !== 'base64' && encoding !== 'quoted-printable') {
    decode(Buffer.alloc(0)); // identity encodings pass through; anything else throws here
    yield* chunks;
    return;
  }
  let carry: Buffer = Buffer.alloc(0);
  for (const chunk of chunks) {
    const input = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let cut: number;
    if (encoding === 'base64') {
      const r = base64Cut(input);
      cut = r.cut;
      carry = r.rest;
    } else {
      cut = qpCut(input);
      carry = Buffer.from(input.subarray(cut));
    }
    if (cut > 0) {
      const out = decode(input.subarray(0, cut));
      if (out.length > 0) yield out;
    }
  }
  // The end of the body is the end of the input for the decoder too (a final "=" is a soft break).
  if (carry.length > 0) {
    const out = decode(carry);
    if (out.length > 0) yield out;
  }
}
