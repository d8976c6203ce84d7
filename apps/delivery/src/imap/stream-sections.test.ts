/**
 * Body sections above the streaming threshold (literal.ts STREAM_MIN), end to end: a message
 * with a 100 KB header field, a 200 KB quoted-printable part and a 150 KB base64 part, fetched
 * section by section with partials, HEADER.FIELDS (.NOT), MIME, BINARY and BINARY.SIZE; every
 * literal is compared with what the whole message gives when cut by hand (@postern/mime's
 * offsets and decoders, the header split into fields as RFC 5322 §2.2 says).
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePartBody, headerFields, indexMessage, type MimePart } from '@postern/mime';
import { createFixture, PASSWORD, type Fixture } from './__tests__/fixture.js';
import { Talk } from '@postern/testkit';
import type { ImapServer } from './index.js';

/** Literals are hashed as they arrive (`imapHashed`), so nothing large is recorded. */
const LARGE = { keep: 64 * 1024 * 1024, record: false, timeoutMs: 60_000 } as const;

const ALICE = 'alice@example.test';
const PREFIX = 'Return-Path: <carol@example.org>\r\nDelivered-To: alice@example.test\r\n';

let fx: Fixture;
let server: ImapServer;
let c: Talk;
let raw: Buffer;
let parts: MimePart[];
let uid: number;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function build(): Buffer {
  const long = Array.from({ length: 1500 }, (_, i) => `value-${i}-${'x'.repeat(60)}`).join('\r\n ');
  // Quoted-printable with soft breaks, escapes (=00 makes NUL) and trailing white space.
  const qpLines: string[] = [];
  for (let i = 0; i < 3000; i++) qpLines.push(`line ${i} caf=C3=A9 =00 tab\there end   =\r\n more=3D${i}  `);
  const b64 = randomBytes(150 * 1024)
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    PREFIX +
      'From: Carol <carol@example.org>\r\nTo: alice@example.test\r\nSubject: sections\r\n' +
      `X-Long: ${long}\r\n` +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="S"\r\n\r\n' +
      '--S\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
      `${qpLines.join('\r\n')}\r\n` +
      '--S\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      `${b64}\r\n--S--\r\n`,
    'latin1',
  );
}

/** HEADER.FIELDS (.NOT) of a whole header, the reference. */
function fields(header: Buffer, names: string[], not: boolean): Buffer {
  const want = new Set(names.map((n) => n.toLowerCase()));
  const out: Buffer[] = [];
  for (const f of headerFields(header)) {
    if (f.name === '' || want.has(f.name.toLowerCase()) === not) continue;
    out.push(f.raw);
  }
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

beforeAll(async () => {
  fx = await createFixture([ALICE], { profile: 'development' });
  raw = build();
  const content = raw.subarray(PREFIX.length);
  parts = indexMessage(content).parts;
  uid = await fx.deliver(ALICE, content, undefined, PREFIX);
  server = await fx.start();
  c = await Talk.open(server.port, LARGE);
  await c.line();
  await c.imapHashed('l', `LOGIN ${ALICE} "${PASSWORD}"`);
  await c.imapHashed('s', 'EXAMINE INBOX');
});

afterAll(async () => {
  c.close();
  await fx.cleanup();
});

async function fetchOne(items: string): Promise<{ head: string; sha: string | undefined; length: number | undefined }> {
  const r = await c.imapHashed('f', `UID FETCH ${uid} (${items})`);
  expect(r.lines.at(-1)).toBe('f OK UID FETCH completed');
  return { head: r.lines[0] as string, sha: r.literals[0]?.sha, length: r.literals[0]?.length };
}

const part = (path: string): MimePart => parts.find((p) => p.path === path) as MimePart;

describe('streamed body sections', () => {
  it('cuts header fields out of a 100 KB header', async () => {
    const header = raw.subarray(0, raw.indexOf('\r\n\r\n') + 4);
    expect(header.length).toBeGreaterThan(64 * 1024);
    const want = fields(header, ['Subject', 'X-Long'], false);
    const got = await fetchOne('BODY.PEEK[HEADER.FIELDS (Subject X-LONG)]');
    expect(got.head).toMatch(/BODY\[HEADER\.FIELDS \(Subject X-LONG\)\] \{\d+\}$/);
    expect(got).toMatchObject({ sha: sha(want), length: want.length });
    const not = fields(header, ['X-Long'], true);
    // The partial is cut from the selection, which is shorter than the 300 asked for.
    expect(not.length).toBeLessThan(310);
    expect(await fetchOne('BODY.PEEK[HEADER.FIELDS.NOT (X-Long)]<10.300>')).toMatchObject({ sha: sha(not.subarray(10)), length: not.length - 10 });
    expect(await fetchOne('RFC822.HEADER')).toMatchObject({ sha: sha(header), length: header.length });
  });

  it('streams TEXT, MIME and part bodies with partials', async () => {
    const bodyStart = raw.indexOf('\r\n\r\n') + 4;
    expect(await fetchOne('BODY.PEEK[TEXT]<1000.200000>')).toMatchObject({ sha: sha(raw.subarray(bodyStart + 1000, bodyStart + 201_000)), length: 200_000 });
    const p = PREFIX.length;
    const p1 = part('1');
    expect(await fetchOne('BODY.PEEK[1.MIME]')).toMatchObject({ sha: sha(raw.subarray(p + p1.headerStart, p + p1.bodyStart)) });
    expect(await fetchOne('BODY.PEEK[1]')).toMatchObject({ sha: sha(raw.subarray(p + p1.bodyStart, p + p1.bodyEnd)), length: p1.bodyEnd - p1.bodyStart });
  });

  it('decodes quoted-printable and base64 parts chunk by chunk, literal8 when NUL is in the data', async () => {
    const content = raw.subarray(PREFIX.length);
    const qp = decodePartBody(content, part('1'));
    const bin = decodePartBody(content, part('2'));
    const one = await fetchOne('BINARY.PEEK[1] BINARY.SIZE[1]');
    expect(one.head).toMatch(/BINARY\[1\] ~\{\d+\}$/);
    expect(one).toMatchObject({ sha: sha(qp), length: qp.length });
    const two = await fetchOne('BINARY.PEEK[2]<100.100000>');
    expect(two.head).toMatch(/BINARY\[2\]<100> ~\{100000\}$/);
    expect(two.sha).toBe(sha(bin.subarray(100, 100_100)));
    const sizes = await c.imapHashed('z', `UID FETCH ${uid} (BINARY.SIZE[1] BINARY.SIZE[2])`);
    expect(sizes.lines[0]).toBe(`* 1 FETCH (UID ${uid} BINARY.SIZE[1] ${qp.length} BINARY.SIZE[2] ${bin.length})`);
  });
});
