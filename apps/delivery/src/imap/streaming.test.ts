/**
 * The pieces that let FETCH stream (property tests): whatever the chunking, the streaming
 * transfer decoders give what @postern/mime decodes from the whole body, the streaming
 * HEADER.FIELDS selection gives what selecting on the whole header gives, partial slices cut
 * the same bytes, and FETCH responses with streamed literals are the codec's bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fetchResponse } from '@postern/imap';
import { decodePartBody, headerFields, indexMessage, type MimePart } from '@postern/mime';
import { fetchResponseParts } from './fetch-response.js';
import { selectHeaderFields } from './header-select.js';
import { collect, sliceChunks, type LiteralSource } from './literal.js';
import { decodeChunks } from './transfer-stream.js';

const RUNS = Number(process.env['POSTERN_FUZZ_RUNS'] ?? 300);

/** `buf` cut into pieces of the given sizes (cycled). */
function chunked(buf: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0, i = 0; pos < buf.length; i++) {
    const n = sizes[i % sizes.length] as number;
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

const sizes = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 });
const soup = (alphabet: string[], maxLength = 300): fc.Arbitrary<Buffer> =>
  fc.array(fc.constantFrom(...alphabet), { maxLength }).map((a) => Buffer.from(a.join(''), 'latin1'));

function part(encoding: string): MimePart {
  const p = indexMessage(Buffer.from('Content-Type: text/plain\r\n\r\nx')).parts[0] as MimePart;
  return { ...p, encoding };
}

describe('streaming Content-Transfer-Encoding removal', () => {
  const b64 = soup(['QUJD', 'ZGVm', 'Zw', '==', '=', 'A', 'b', '+', '/', '-', '_', '\r\n', '\n', ' ', '*', '\0', 'x']);
  const qp = soup(['=41', '=4', '=', '=\r\n', '=\n', '= \r\n', ' ', '\t', '\r', '\n', '\r\n', 'a', 'Z', '=ZZ', '=e9', '==', '\xff']);

  it('base64: any chunking decodes as the whole body does', () => {
    fc.assert(
      fc.property(b64, sizes, (raw, s) => {
        const p = part('base64');
        expect(collect(decodeChunks(chunked(raw, s), p))).toEqual(decodePartBody(raw, { ...p, bodyStart: 0, bodyEnd: raw.length }));
      }),
      { numRuns: RUNS },
    );
  });

  it('quoted-printable: any chunking decodes as the whole body does', () => {
    fc.assert(
      fc.property(qp, sizes, (raw, s) => {
        const p = part('quoted-printable');
        expect(collect(decodeChunks(chunked(raw, s), p))).toEqual(decodePartBody(raw, { ...p, bodyStart: 0, bodyEnd: raw.length }));
      }),
      { numRuns: RUNS },
    );
  });

  it('identity encodings pass through; unknown ones throw', () => {
    const raw = Buffer.from('abc\0def');
    expect(collect(decodeChunks(chunked(raw, [2]), part('binary')))).toEqual(raw);
    expect(() => collect(decodeChunks([raw], part('x-uuencode')))).toThrow(/unknown Content-Transfer-Encoding/);
  });
});

/** The whole-header selection FETCH used before it streamed. */
function selectWhole(header: Buffer, fields: readonly string[], not: boolean): Buffer {
  const names = new Set(fields.map((f) => f.toLowerCase()));
  const out: Buffer[] = [];
  for (const f of headerFields(header)) {
    if (f.name === '') continue;
    if (names.has(f.name.toLowerCase()) === not) continue;
    out.push(f.raw);
    if (f.raw[f.raw.length - 1] !== 0x0a) out.push(Buffer.from('\r\n'));
  }
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

describe('streaming HEADER.FIELDS', () => {
  const header = soup(['Subject', 'From', 'to', 'X-A', ':', ' ', '\t', '\r\n', '\n', '\r', 'v', 'Subject: x\r\n', ' folded\r\n', 'nocolon\r\n', '\r\n'], 80);
  const fields = fc.array(fc.constantFrom('Subject', 'FROM', 'To', 'x-a', 'Missing'), { maxLength: 3 });

  it('selects what selecting on the whole header selects, for any chunking', () => {
    fc.assert(
      fc.property(header, fields, fc.boolean(), sizes, (h, f, not, s) => {
        expect(collect(selectHeaderFields(chunked(h, s), f, not))).toEqual(selectWhole(h, f, not));
      }),
      { numRuns: RUNS },
    );
  });

  it('decides on an overlong first line without holding it', () => {
    const long = Buffer.concat([Buffer.from('X'.repeat(200 * 1024)), Buffer.from(': v\r\nSubject: s\r\n\r\n')]);
    expect(collect(selectHeaderFields(chunked(long, [4096]), ['Subject'], false)).toString()).toBe('Subject: s\r\n\r\n');
    expect(collect(selectHeaderFields(chunked(long, [4096]), ['Subject'], true)).length).toBe(200 * 1024 + 5 + 2);
  });
});

describe('partial slices and streamed FETCH responses', () => {
  it('sliceChunks cuts what subarray cuts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), sizes, fc.nat(250), fc.nat(250), (a, s, off, len) => {
        const buf = Buffer.from(a);
        expect(collect(sliceChunks(chunked(buf, s), off, len))).toEqual(buf.subarray(Math.min(off, buf.length), Math.min(buf.length, off + len)));
      }),
      { numRuns: RUNS },
    );
  });

  it('writes the bytes the codec writes, literal8 when the source says so', () => {
    const data = Buffer.from('hello\0world');
    const src = (binary: boolean): LiteralSource => ({ length: data.length, binary, chunks: () => chunked(data, [3]) });
    const flat = (parts: ReturnType<typeof fetchResponseParts>): Buffer => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : collect(p.chunks()))));
    const items = [
      { kind: 'UID', value: 7 },
      { kind: 'FLAGS', flags: ['\\Seen'] },
    ] as const;
    const section = { part: [1, 2], text: 'MIME' } as const;
    expect(flat(fetchResponseParts(3, [...items, { kind: 'BODY[]', section, origin: 5, source: src(false) }, { kind: 'RFC822.SIZE', value: 9 }]))).toEqual(
      Buffer.concat(fetchResponse(3, [...items, { kind: 'BODY[]', section, origin: 5, data: Buffer.from('hello\0world') }, { kind: 'RFC822.SIZE', value: 9 }])),
    );
    expect(flat(fetchResponseParts(4, [{ kind: 'BINARY[]', part: [2], origin: null, source: src(true) }]))).toEqual(
      Buffer.concat(fetchResponse(4, [{ kind: 'BINARY[]', part: [2], origin: null, data }])),
    );
    expect(
      flat(
        fetchResponseParts(5, [
          { kind: 'RFC822', source: src(false) },
          { kind: 'RFC822.TEXT', source: src(false) },
        ]),
      ).toString('latin1'),
    ).toBe(`* 5 FETCH (RFC822 {11}\r\nhello\0world RFC822.TEXT {11}\r\nhello\0world)\r\n`);
  });
});
