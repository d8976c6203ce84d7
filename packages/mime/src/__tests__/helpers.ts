/** Test helpers: an IMAP value reader (to check what we send parses) and the index invariants. */
import { expect } from 'vitest';
import type { IndexedMessage } from '../index.js';

export type ImapValue = null | string | ImapValue[];

/**
 * Reads one IMAP value (list, quoted string, literal, atom/NIL) from UTF-8 bytes, as a client
 * would: literal lengths are octet counts, so a wrong length breaks the parse.
 */
export function readImap(text: string): ImapValue {
  const buf = Buffer.from(text, 'utf8');
  let i = 0;
  const value = (): ImapValue => {
    const c = buf[i];
    if (c === 0x28) {
      i++;
      const list: ImapValue[] = [];
      for (;;) {
        if (i >= buf.length) throw new Error('unterminated list');
        if (buf[i] === 0x29) {
          i++;
          return list;
        }
        if (list.length > 0) {
          if (buf[i] !== 0x20 && buf[i - 1] !== 0x29) throw new Error(`expected SP at ${i}`);
          if (buf[i] === 0x20) i++;
        }
        list.push(value());
      }
    }
    if (c === 0x22) {
      i++;
      const bytes: number[] = [];
      while (buf[i] !== 0x22) {
        if (i >= buf.length) throw new Error('unterminated quoted string');
        if (buf[i] === 0x5c) i++;
        if (buf[i] === 0x0d || buf[i] === 0x0a || buf[i]! >= 0x80) throw new Error('bad quoted char');
        bytes.push(buf[i]!);
        i++;
      }
      i++;
      return Buffer.from(bytes).toString('utf8');
    }
    if (c === 0x7b) {
      const close = buf.indexOf('}', i);
      const n = Number(buf.toString('latin1', i + 1, close));
      if (buf[close + 1] !== 0x0d || buf[close + 2] !== 0x0a) throw new Error('bad literal');
      i = close + 3;
      if (i + n > buf.length) throw new Error('literal past end');
      const s = buf.toString('utf8', i, i + n);
      if (buf.subarray(i, i + n).includes(0)) throw new Error('NUL in literal');
      i += n;
      return s;
    }
    const start = i;
    while (i < buf.length && buf[i] !== 0x20 && buf[i] !== 0x29 && buf[i] !== 0x28) i++;
    if (i === start) throw new Error(`empty atom at ${i}`);
    const atom = buf.toString('latin1', start, i);
    return atom === 'NIL' ? null : atom;
  };
  const v = value();
  if (i !== buf.length) throw new Error(`trailing data at ${i}`);
  return v;
}

/** Everything that must hold for any index of any input. */
export function checkInvariants(raw: Buffer, m: IndexedMessage): void {
  expect(m.size).toBe(raw.length);
  expect(m.headerEnd).toBeGreaterThanOrEqual(0);
  expect(m.headerEnd).toBeLessThanOrEqual(raw.length);
  expect(m.parts.length).toBeGreaterThan(0);
  const envelope = readImap(m.envelope);
  expect(Array.isArray(envelope) && envelope.length === 10).toBe(true);
  expect(Array.isArray(readImap(m.bodyStructure))).toBe(true);
  expect(Array.isArray(readImap(m.body))).toBe(true);
  const byPath = new Map<string, (typeof m.parts)[number]>();
  let lastStart = -1;
  for (const p of m.parts) {
    expect(byPath.has(p.path)).toBe(false);
    byPath.set(p.path, p);
    expect(p.headerStart).toBeGreaterThanOrEqual(0);
    expect(p.bodyStart).toBeGreaterThanOrEqual(p.headerStart);
    expect(p.bodyEnd).toBeGreaterThanOrEqual(p.bodyStart);
    expect(p.bodyEnd).toBeLessThanOrEqual(raw.length);
    expect(p.size).toBe(p.bodyEnd - p.bodyStart);
    expect(p.headerStart).toBeGreaterThanOrEqual(lastStart); // pre-order follows the bytes
    lastStart = p.headerStart;
    if (p.innerBodyStart !== null) {
      expect(p.innerBodyStart).toBeGreaterThanOrEqual(p.bodyStart);
      expect(p.innerBodyStart).toBeLessThanOrEqual(p.bodyEnd);
    }
  }
  const root = m.parts[0]!;
  expect(root.headerStart).toBe(0);
  expect(root.path === '' || root.path === '1').toBe(true);
  for (const p of m.parts) {
    if (p === root) continue;
    // the nearest listed ancestor contains the part
    let parentPath = p.path.includes('.') ? p.path.slice(0, p.path.lastIndexOf('.')) : '';
    let parent = byPath.get(parentPath);
    while (parent === undefined && parentPath !== '') {
      parentPath = parentPath.includes('.') ? parentPath.slice(0, parentPath.lastIndexOf('.')) : '';
      parent = byPath.get(parentPath);
    }
    if (parent === undefined) continue; // a top-level part of a message whose root is "1"
    expect(p.headerStart).toBeGreaterThanOrEqual(parent.bodyStart);
    expect(p.bodyEnd).toBeLessThanOrEqual(parent.bodyEnd);
  }
}
