/**
 * Property tests (fast-check): arbitrary bytes and MIME-shaped noise never make indexMessage
 * throw or break the offset invariants, and a generated MIME tree comes back with exactly the
 * parts, section numbers and body bytes it was built from.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_INDEX_LIMITS, indexMessage } from './index.js';
import { checkInvariants } from './__tests__/helpers.js';

// MIME_FUZZ_RUNS=20000 npx vitest run src/property.test.ts for a longer local fuzz
const RUNS = Number(process.env['MIME_FUZZ_RUNS'] ?? 300);

describe('indexMessage on arbitrary input', () => {
  it('never throws on random bytes and keeps its invariants', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        const raw = Buffer.from(bytes);
        checkInvariants(raw, indexMessage(raw));
      }),
      { numRuns: RUNS },
    );
  });

  const token = fc.constantFrom(
    '--b\r\n',
    '--b--\r\n',
    '--c\n',
    '--c--',
    '--',
    '\r\n',
    '\n',
    '\r',
    ' ',
    '\t',
    ':',
    ';',
    '"',
    '(',
    ')',
    '<',
    '>',
    '@',
    ',',
    '=?',
    '?=',
    '\0',
    '\xe9',
    'Content-Type: multipart/mixed; boundary=b\r\n',
    'Content-Type: multipart/alternative; boundary="c"\n',
    'Content-Type: message/rfc822\r\n',
    'Content-Type: message/global\r\n',
    'Content-Type: multipart/digest; boundary=b\r\n',
    'Content-Transfer-Encoding: base64\r\n',
    'Content-Transfer-Encoding: quoted-printable\r\n',
    'Content-Type: text/html\r\n',
    "Content-Disposition: attachment; filename*0*=utf-8''%C3; filename*1=x\r\n",
    'From: "a" <b@c>, g: d@e;\r\n',
    'Subject: =?utf-8?q?x?=\r\n',
    'To: <@r:a@b>, x@, (c)\r\n',
    'Date: 1 Jan 2024 00:00 +0000\r\n',
    ' folded\r\n',
    'QUJD\r\n',
    '=C3=A9=\r\n',
    '<p>x&amp;</p>',
  );

  it('never throws on MIME-shaped noise and keeps its invariants', () => {
    fc.assert(
      fc.property(fc.array(token, { maxLength: 80 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 8 }), (tokens, maxDepth, maxParts) => {
        const raw = Buffer.from(tokens.join(''), 'latin1');
        checkInvariants(raw, indexMessage(raw));
        const limited = indexMessage(raw, { maxDepth, maxParts, maxTextBytes: 10 });
        checkInvariants(raw, limited);
        expect(limited.parts.length).toBeLessThanOrEqual(maxParts);
        expect(Buffer.byteLength(limited.text)).toBeLessThanOrEqual(10);
      }),
      { numRuns: RUNS },
    );
  });
});

type Node = { kind: 'leaf'; body: string; html: boolean } | { kind: 'multipart'; subtype: string; children: Node[] } | { kind: 'message'; inner: Node };

const lineArb = fc.stringMatching(/^[a-zA-Z0-9 .,!?]{0,30}$/);
const leafArb: fc.Arbitrary<Node> = fc.record({
  kind: fc.constant('leaf' as const),
  body: fc.array(lineArb, { maxLength: 4 }).map((lines) => lines.join('\n')),
  html: fc.boolean(),
});
const treeArb: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.record({
      kind: fc.constant('multipart' as const),
      subtype: fc.constantFrom('mixed', 'alternative', 'related'),
      children: fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
    }),
    fc.record({ kind: fc.constant('message' as const), inner: tie('node') }),
  ),
})).node;

interface Built {
  text: string;
  /** Expected listing in pre-order: [path, body], body null for containers. */
  parts: Array<[string, string | null]>;
}

/** Serialises a tree; `eol` is CRLF or LF throughout. Boundaries are unique and never prefixes. */
function build(root: Node, eol: string): Built {
  let counter = 0;
  const parts: Array<[string, string | null]> = [];
  const entity = (n: Node, path: string): string => {
    if (n.kind === 'leaf') {
      const body = n.body.split('\n').join(eol);
      parts.push([path, body]);
      return `Content-Type: text/${n.html ? 'html' : 'plain'}; charset=us-ascii${eol}${eol}${body}`;
    }
    if (n.kind === 'message') {
      parts.push([path, null]);
      return `Content-Type: message/rfc822${eol}${eol}${messageOf(n.inner, path)}`;
    }
    const boundary = `=_b${counter++}_x`;
    parts.push([path, null]);
    let s = `Content-Type: multipart/${n.subtype}; boundary="${boundary}"${eol}${eol}preamble${eol}`;
    n.children.forEach((c, i) => {
      s += `--${boundary}${eol}${entity(c, `${path}.${i + 1}`)}${eol}`;
    });
    return `${s}--${boundary}--${eol}`;
  };
  // an encapsulated message (RFC 9051 §6.4.5): a multipart root has no number of its own
  const messageOf = (n: Node, prefix: string): string => {
    const hdr = `Subject: part ${prefix}${eol}`;
    if (n.kind === 'multipart') {
      let s = hdr;
      const boundary = `=_b${counter++}_x`;
      s += `Content-Type: multipart/${n.subtype}; boundary="${boundary}"${eol}${eol}`;
      n.children.forEach((c, i) => {
        s += `--${boundary}${eol}${entity(c, `${prefix}.${i + 1}`)}${eol}`;
      });
      return `${s}--${boundary}--${eol}`;
    }
    return hdr + entity(n, `${prefix}.1`);
  };
  let text: string;
  if (root.kind === 'multipart') {
    parts.push(['', null]);
    const boundary = `=_b${counter++}_x`;
    text = `Subject: top${eol}Content-Type: multipart/${root.subtype}; boundary="${boundary}"${eol}${eol}`;
    root.children.forEach((c, i) => {
      text += `--${boundary}${eol}${entity(c, `${i + 1}`)}${eol}`;
    });
    text += `--${boundary}--${eol}`;
  } else {
    text = `Subject: top${eol}${entity(root, '1')}`;
  }
  return { text, parts };
}

describe('generated MIME trees', () => {
  it('round-trip: the same parts, section numbers and body bytes', () => {
    fc.assert(
      fc.property(treeArb, fc.constantFrom('\r\n', '\n'), (tree, eol) => {
        const built = build(tree, eol);
        const raw = Buffer.from(built.text, 'latin1');
        const m = indexMessage(raw, { ...DEFAULT_INDEX_LIMITS, maxDepth: 1000 });
        checkInvariants(raw, m);
        expect(m.parts.map((p) => p.path)).toEqual(built.parts.map(([path]) => path));
        m.parts.forEach((p, i) => {
          const body = built.parts[i]![1];
          if (body !== null) expect(raw.subarray(p.bodyStart, p.bodyEnd).toString('latin1')).toBe(body);
        });
      }),
      { numRuns: RUNS },
    );
  });
});
