import { describe, expect, it } from 'vitest';
import { DEFAULT_INDEX_LIMITS, UnknownEncodingError, decodePartBody, decodeText, headerFields, indexMessage, parseMailDate } from './index.js';
import type { MimePart } from './index.js';
import { checkInvariants } from './__tests__/helpers.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'latin1');
const part = (m: ReturnType<typeof indexMessage>, path: string): MimePart => {
  const p = m.parts.find((x) => x.path === path);
  if (p === undefined) throw new Error(`no part ${path}`);
  return p;
};
const slice = (raw: Buffer, start: number, end: number): string => raw.subarray(start, end).toString('latin1');

describe('RFC 9051 example message', () => {
  // The message of RFC 9051 §8 / RFC 3501 §8; expectations written by hand from §7.5.2.
  const raw = crlf([
    'Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)',
    'From: Fred Foobar <foobar@Blurdybloop.example>',
    'Subject: afternoon meeting',
    'To: mooch@owatagu.siam.edu.example',
    'Message-Id: <B27397-0100000@Blurdybloop.example>',
    'MIME-Version: 1.0',
    'Content-Type: TEXT/PLAIN; CHARSET=US-ASCII',
    '',
    'Hello Joe, do you think we can meet at 3:30 tomorrow?',
    '',
  ]);
  const m = indexMessage(raw);

  it('has the ENVELOPE of RFC 9051 §7.5.2', () => {
    const fred = '(("Fred Foobar" NIL "foobar" "Blurdybloop.example"))';
    expect(m.envelope).toBe(
      `("Mon, 7 Feb 1994 21:52:25 -0800 (PST)" "afternoon meeting" ${fred} ${fred} ${fred} ` +
        '((NIL NIL "mooch" "owatagu.siam.edu.example")) NIL NIL NIL "<B27397-0100000@Blurdybloop.example>")',
    );
  });

  it('has BODY and BODYSTRUCTURE with size and line count', () => {
    // body: 53 characters + CRLF = 55 octets, 1 line; media type as written (Dovecot does not fold case)
    expect(m.body).toBe('("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7bit" 55 1)');
    expect(m.bodyStructure).toBe('("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7bit" 55 1 NIL NIL NIL NIL)');
  });

  it('lists the body as part 1 with exact offsets', () => {
    expect(m.parts).toHaveLength(1);
    const p = part(m, '1');
    expect(p.headerStart).toBe(0);
    expect(p.bodyStart).toBe(m.headerEnd);
    expect(slice(raw, p.bodyStart, p.bodyEnd)).toBe('Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n');
    expect(slice(raw, 0, m.headerEnd).endsWith('US-ASCII\r\n\r\n')).toBe(true);
    expect(p).toMatchObject({ type: 'text', subtype: 'plain', params: { charset: 'US-ASCII' }, encoding: '7bit', lines: 1, size: 55 });
  });

  it('decodes the header fields for search', () => {
    expect(m.subject).toBe('afternoon meeting');
    expect(m.from).toBe('Fred Foobar <foobar@Blurdybloop.example>');
    expect(m.fromAddress).toBe('foobar@blurdybloop.example');
    expect(m.to).toBe('mooch@owatagu.siam.edu.example');
    expect(m.messageId).toBe('<B27397-0100000@Blurdybloop.example>');
    expect(m.date?.toISOString()).toBe('1994-02-08T05:52:25.000Z');
    expect(m.text).toBe('Hello Joe, do you think we can meet at 3:30 tomorrow?');
    expect(m.hasAttachments).toBe(false);
  });
});

describe('multipart offsets', () => {
  const raw = crlf([
    'From: a@example.org',
    'Subject: =?utf-8?q?Caf=C3=A9?= =?utf-8?q?_au_lait?=',
    'Content-Type: multipart/mixed; boundary="outer b"',
    '',
    'preamble',
    '--outer b',
    'Content-Type: multipart/alternative; boundary=inner',
    '',
    '--inner',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=E9 cr=E8me=',
    ' br=FBl=E9e',
    '--inner',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>caf&eacute;</p>',
    '--inner--',
    '--outer b',
    'Content-Type: application/octet-stream; name="x.bin"',
    'Content-Transfer-Encoding: base64',
    "Content-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9.bin",
    '',
    'AAEC',
    'AwQF',
    '--outer b',
    'Content-Type: message/rfc822',
    '',
    'Subject: inner',
    'From: Inner <in@example.net>',
    '',
    'inner body',
    '--outer b--',
    'epilogue',
  ]);
  const m = indexMessage(raw);

  it('numbers parts as IMAP sections, in pre-order', () => {
    expect(m.parts.map((p) => p.path)).toEqual(['', '1', '1.1', '1.2', '2', '3', '3.1']);
    checkInvariants(raw, m);
  });

  it('gives byte-exact bodies: the CRLF before a boundary belongs to the boundary', () => {
    expect(slice(raw, part(m, '1.1').bodyStart, part(m, '1.1').bodyEnd)).toBe('caf=E9 cr=E8me=\r\n br=FBl=E9e');
    expect(slice(raw, part(m, '1.2').bodyStart, part(m, '1.2').bodyEnd)).toBe('<p>caf&eacute;</p>');
    expect(slice(raw, part(m, '2').bodyStart, part(m, '2').bodyEnd)).toBe('AAEC\r\nAwQF');
    expect(slice(raw, part(m, '3.1').bodyStart, part(m, '3.1').bodyEnd)).toBe('inner body');
    // the close delimiter's line end stays in the inner multipart (as in Dovecot)
    expect(slice(raw, part(m, '1').bodyStart, part(m, '1').bodyEnd).endsWith('--inner--\r\n')).toBe(true);
    expect(slice(raw, part(m, '').bodyStart, part(m, '').bodyEnd).endsWith('--outer b--\r\nepilogue')).toBe(true);
    expect(slice(raw, part(m, '2').headerStart, part(m, '2').bodyStart).startsWith('Content-Type: application/octet-stream')).toBe(true);
  });

  it('gives the encapsulated header and text of a message/rfc822 part', () => {
    const p = part(m, '3');
    expect(p.innerBodyStart).not.toBeNull();
    expect(slice(raw, p.bodyStart, p.innerBodyStart!)).toBe('Subject: inner\r\nFrom: Inner <in@example.net>\r\n\r\n');
    expect(slice(raw, p.innerBodyStart!, p.bodyEnd)).toBe('inner body');
    expect(p.lines).toBe(3);
  });

  it('writes BODYSTRUCTURE for nested multiparts and message/rfc822', () => {
    expect(m.bodyStructure).toBe(
      '(((' +
        '"text" "plain" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 28 1 NIL NIL NIL NIL)(' +
        '"text" "html" ("charset" "utf-8") NIL NIL "7bit" 18 0 NIL NIL NIL NIL) "alternative" ("boundary" "inner") NIL NIL NIL)(' +
        '"application" "octet-stream" ("name" "x.bin") NIL NIL "base64" 10 NIL ("attachment" ("filename*" "utf-8\'\'%C3%A9t%C3%A9.bin")) NIL NIL)(' +
        '"message" "rfc822" NIL NIL NIL "7bit" 58 (NIL "inner" (("Inner" NIL "in" "example.net")) (("Inner" NIL "in" "example.net")) (("Inner" NIL "in" "example.net")) NIL NIL NIL NIL NIL) ' +
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)' +
        ' "mixed" ("boundary" "outer b") NIL NIL NIL)',
    );
    expect(m.body).toBe(
      '((("text" "plain" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 28 1)("text" "html" ("charset" "utf-8") NIL NIL "7bit" 18 0) "alternative")' +
        '("application" "octet-stream" ("name" "x.bin") NIL NIL "base64" 10)' +
        '("message" "rfc822" NIL NIL NIL "7bit" 58 (NIL "inner" (("Inner" NIL "in" "example.net")) (("Inner" NIL "in" "example.net")) (("Inner" NIL "in" "example.net")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0) 3) "mixed")',
    );
  });

  it('decodes bodies, file names and text', () => {
    expect([...decodePartBody(raw, part(m, '2'))]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(decodePartBody(raw, part(m, '1.1')).toString('latin1')).toBe('café crème brûlée');
    expect(decodeText(raw, part(m, '1.1'))).toBe('café crème brûlée');
    expect(part(m, '2').filename).toBe('été.bin');
    expect(part(m, '2').disposition).toBe('attachment');
    expect(part(m, '2').dispositionParams).toEqual({ filename: 'été.bin' });
    expect(m.subject).toBe('Café au lait');
    expect(m.hasAttachments).toBe(true);
    // the plain alternative is indexed, not the HTML one; the forwarded message's text too
    expect(m.text).toBe('café crème brûlée\ninner body');
  });
});

describe('decodePartBody', () => {
  const mk = (cte: string, body: string): { raw: Buffer; p: MimePart } => {
    const raw = crlf(['MIME-Version: 1.0', `Content-Transfer-Encoding: ${cte}`, '', body]);
    const m = indexMessage(raw);
    return { raw, p: m.parts[0]! };
  };

  it('undoes base64, skipping line breaks and junk', () => {
    const { raw, p } = mk('BASE64', 'SGVs\r\nbG8g!d29y\r\nbGQ=\r\n');
    expect(p.encoding).toBe('base64');
    expect(decodePartBody(raw, p).toString()).toBe('Hello world');
  });

  it('undoes quoted-printable with soft breaks, lowercase hex and bare LF', () => {
    const raw = Buffer.from('MIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\na=3db=3D=\nc =20\nd  \n= x', 'latin1');
    const p = indexMessage(raw).parts[0]!;
    expect(decodePartBody(raw, p).toString('latin1')).toBe('a=b=c  \nd\n= x');
  });

  it('ignores Content-* fields of a message that is not MIME (no MIME-Version, no Content-Type)', () => {
    const raw = crlf(['Content-Transfer-Encoding: base64', 'Content-ID: <x@y>', '', 'QUJD']);
    const p = indexMessage(raw).parts[0]!;
    expect(p).toMatchObject({ encoding: '7bit', id: null });
    expect(decodePartBody(raw, p).toString()).toBe('QUJD');
  });

  it('returns identity encodings as they are', () => {
    const { raw, p } = mk('8bit', 'caf\u00e9');
    expect(decodePartBody(raw, p).toString('latin1')).toBe('caf\u00e9');
  });

  it('throws UnknownEncodingError for an unknown encoding, and decodeText falls back to the raw bytes', () => {
    const { raw, p } = mk('x-uuencode', 'begin 644 x');
    expect(() => decodePartBody(raw, p)).toThrow(UnknownEncodingError);
    expect(decodeText(raw, p)).toBe('begin 644 x');
  });

  it('decodes text in its charset, and undeclared 8-bit as UTF-8 or windows-1252', () => {
    const k = crlf(['Content-Type: text/plain; charset=koi8-r', '', '\u00f0\u00d2\u00c9\u00d7\u00c5\u00d4']);
    expect(decodeText(k, indexMessage(k).parts[0]!)).toBe('Привет');
    const w = Buffer.from('Subject: x\r\n\r\n\x93quoted\x94', 'latin1');
    expect(decodeText(w, indexMessage(w).parts[0]!)).toBe('\u201cquoted\u201d');
    const u = Buffer.from('Subject: x\r\n\r\nünï', 'utf8');
    expect(decodeText(u, indexMessage(u).parts[0]!)).toBe('ünï');
  });
});

describe('headerFields', () => {
  it('splits a header into fields with their exact bytes, continuation lines included', () => {
    const header = Buffer.from('Subject: a\r\n b\r\nX-Y : 1\r\nno colon\r\nTo: t\n\r\n', 'latin1');
    const fields = headerFields(header);
    expect(fields.map((f) => f.name)).toEqual(['Subject', 'X-Y', '', 'To']);
    expect(fields.map((f) => f.raw.toString('latin1'))).toEqual(['Subject: a\r\n b\r\n', 'X-Y : 1\r\n', 'no colon\r\n', 'To: t\n']);
    expect(Buffer.concat(fields.map((f) => f.raw)).toString('latin1')).toBe('Subject: a\r\n b\r\nX-Y : 1\r\nno colon\r\nTo: t\n');
  });
});

describe('header values', () => {
  it('keeps raw values in ENVELOPE and decodes them for search', () => {
    const raw = crlf([
      'From: =?iso-8859-1?q?J=F6rg?= <Joerg@EXAMPLE.De>',
      'To: "Doe, Jane" <jane@x.test>, Friends: a@x.test, b@x.test;',
      'Subject: =?utf-8?b?SGVsbG8=?=',
      '\t  world',
      'In-Reply-To: <p1@x> (comment)',
      'References: <r1@x>',
      ' <r2@x> <p1@x>',
      'Date: 5 Mar 24 01:02 EST',
      '',
      'x',
    ]);
    const m = indexMessage(raw);
    expect(m.envelope).toBe(
      '("5 Mar 24 01:02 EST" "=?utf-8?b?SGVsbG8=?= world" (("=?iso-8859-1?q?J=F6rg?=" NIL "Joerg" "EXAMPLE.De")) (("=?iso-8859-1?q?J=F6rg?=" NIL "Joerg" "EXAMPLE.De")) ' +
        '(("=?iso-8859-1?q?J=F6rg?=" NIL "Joerg" "EXAMPLE.De")) (("Doe, Jane" NIL "jane" "x.test")(NIL NIL "Friends" NIL)(NIL NIL "a" "x.test")(NIL NIL "b" "x.test")(NIL NIL NIL NIL)) ' +
        'NIL NIL "<p1@x> (comment)" NIL)',
    );
    expect(m.subject).toBe('Hello world');
    expect(m.from).toBe('Jörg <Joerg@EXAMPLE.De>');
    expect(m.fromAddress).toBe('Joerg@example.de');
    expect(m.to).toBe('Doe, Jane <jane@x.test>, Friends: a@x.test, b@x.test;');
    expect(m.inReplyTo).toBe('<p1@x>');
    expect(m.references).toEqual(['<r1@x>', '<r2@x>', '<p1@x>']);
    expect(m.date?.toISOString()).toBe('2024-03-05T06:02:00.000Z');
  });

  it('gives a null date for a missing or invalid Date:, never now', () => {
    expect(indexMessage(crlf(['Subject: x', '', ''])).date).toBeNull();
    expect(indexMessage(crlf(['Date: yesterday', '', ''])).date).toBeNull();
    expect(indexMessage(crlf(['Date: 31 Feb 2024 10:00:00 +0000', '', ''])).date).toBeNull();
  });

  it('parses RFC 5322 dates and their obsolete forms', () => {
    expect(parseMailDate('Tue, 1 Jul 2003 10:52:37 +0200')?.toISOString()).toBe('2003-07-01T08:52:37.000Z');
    expect(parseMailDate('1 Jul 03 10:52 GMT')?.toISOString()).toBe('2003-07-01T10:52:00.000Z');
    expect(parseMailDate('Thu, 1 Jan 1970 00:00:00 -0000 (UTC)')?.toISOString()).toBe('1970-01-01T00:00:00.000Z');
    expect(parseMailDate('2024-01-02T03:04:05Z')?.toISOString()).toBe('2024-01-02T03:04:05.000Z');
    expect(parseMailDate('Tue, 1 Jul 2003 25:52:37 +0200')).toBeNull();
    expect(parseMailDate('')).toBeNull();
  });
});

describe('text and attachments', () => {
  it('turns HTML into text when there is no plain alternative', () => {
    const raw = crlf([
      'Content-Type: text/html; charset=utf-8',
      '',
      '<html><head><title>t</title><style>p{}</style></head><body><p>Hello&nbsp;<b>wor</b>ld &amp; more</p><script>x()</script><div>line&#33;</div></body></html>',
    ]);
    expect(indexMessage(raw).text).toBe('Hello world & more\nline!');
  });

  it('bounds the text by maxTextBytes without splitting a character', () => {
    const raw = Buffer.from(`Content-Type: text/plain; charset=utf-8\r\n\r\n${'é'.repeat(1000)}`, 'utf8');
    const m = indexMessage(raw, { ...DEFAULT_INDEX_LIMITS, maxTextBytes: 101 });
    expect(m.text).toBe('é'.repeat(50));
  });

  it('does not index attachment text and tells attachments apart from inline parts', () => {
    const raw = crlf([
      'Content-Type: multipart/related; boundary=r',
      '',
      '--r',
      'Content-Type: text/html',
      '',
      '<img src="cid:a">',
      '--r',
      'Content-Type: image/png; name=a.png',
      'Content-Disposition: inline; filename=a.png',
      '',
      'iVBO',
      '--r--',
    ]);
    expect(indexMessage(raw).hasAttachments).toBe(false);
    const withAttachment = crlf([
      'Content-Type: multipart/mixed; boundary=m',
      '',
      '--m',
      '',
      'body text',
      '--m',
      'Content-Type: text/plain',
      'Content-Disposition: attachment; filename=secret.txt',
      '',
      'attached text',
      '--m--',
    ]);
    const m = indexMessage(withAttachment);
    expect(m.hasAttachments).toBe(true);
    expect(m.text).toBe('body text');
    expect(m.parts.map((p) => p.filename)).toEqual([null, null, 'secret.txt']);
  });
});

describe('hostile and broken input', () => {
  it('never throws on degenerate messages', () => {
    for (const s of [
      '',
      '\r\n',
      '\n',
      '--',
      ':',
      '\0\0\0',
      'no header no body',
      'Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n',
      'Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n',
    ]) {
      const raw = Buffer.from(s, 'latin1');
      const m = indexMessage(raw);
      checkInvariants(raw, m);
    }
  });

  it('indexes a message without a body as one empty text part', () => {
    const raw = Buffer.from('Subject: only a header\r\n');
    const m = indexMessage(raw);
    expect(m.headerEnd).toBe(raw.length);
    expect(m.bodyStructure).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)');
    expect(m.parts.map((p) => [p.path, p.size])).toEqual([['1', 0]]);
  });

  it('turns multiparts nested deeper than maxDepth into opaque leaves', () => {
    const depth = 200;
    let s = '';
    for (let i = 0; i < depth; i++) s += `Content-Type: multipart/mixed; boundary=x${i}y\r\n\r\n--x${i}y\r\n`;
    s += 'Content-Type: text/plain\r\n\r\nleaf\r\n';
    for (let i = depth - 1; i >= 0; i--) s += `--x${i}y--\r\n`;
    const raw = Buffer.from(s);
    const m = indexMessage(raw);
    checkInvariants(raw, m);
    expect(m.parts.length).toBe(DEFAULT_INDEX_LIMITS.maxDepth + 1);
    expect(m.parts[m.parts.length - 1]).toMatchObject({ type: 'application', subtype: 'octet-stream' });
    expect(m.bodyStructure).toContain('"application" "octet-stream" ("boundary" "x32y")');
  });

  it('stops splitting at maxParts on a message with 100,000 parts', () => {
    const raw = Buffer.from(`Content-Type: multipart/mixed; boundary=b\r\n\r\n${'--b\r\n\r\nx\r\n'.repeat(100_000)}--b--\r\n`);
    const m = indexMessage(raw);
    expect(m.parts.length).toBe(DEFAULT_INDEX_LIMITS.maxParts);
    checkInvariants(raw, m);
    const few = indexMessage(raw, { ...DEFAULT_INDEX_LIMITS, maxParts: 3 });
    expect(few.parts.map((p) => p.path)).toEqual(['', '1', '2']);
  });

  it('indexes a 20 MB attachment with exact offsets', () => {
    const line = `${'QUJD'.repeat(19)}\r\n`;
    const b64 = line.repeat(Math.ceil((20 * 1024 * 1024) / line.length));
    const raw = Buffer.from(
      `Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--zz\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}--zz--\r\n`,
    );
    const m = indexMessage(raw);
    const att = part(m, '2');
    expect(att.size).toBe(b64.length - 2);
    expect(decodePartBody(raw, att).subarray(0, 6).toString()).toBe('ABCABC');
    expect(m.text).toBe('see attached');
  });
});
