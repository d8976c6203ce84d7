import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SourceMessage } from './engine.js';
import { asctime, fromLineDate, maildirFlags, maildirInfo, toCrlf } from './mailfiles.js';
import { openMboxSource, openMboxWriter } from './mbox.js';
import { parseDovecotUidlist } from './maildir.js';
import { decodeMutf7, encodeMutf7 } from './mutf7.js';

async function readAllMessages(file: string): Promise<SourceMessage[]> {
  const src = await openMboxSource(file, null);
  const [folder] = await src.folders();
  const out: SourceMessage[] = [];
  for await (const batch of (await folder!.plan(null)).batches()) out.push(...batch);
  return out;
}

describe('modified UTF-7 (RFC 3501 §5.1.3)', () => {
  it('decodes and encodes the names Dovecot writes', () => {
    expect(decodeMutf7('&AMQ-rger')).toBe('Ärger');
    expect(decodeMutf7('Entw&APw-rfe &- Notizen')).toBe('Entwürfe & Notizen');
    for (const name of ['Ärger', 'Übersicht 2024', '日本語', 'a&b', 'plain', 'emoji 📬', 'dot.ted']) {
      expect(decodeMutf7(encodeMutf7(name, '.'))).toBe(name);
      expect(encodeMutf7(name, '.')).not.toContain('.');
    }
  });
});

describe('Maildir flags', () => {
  it('reads and writes the info letters and Dovecot keyword letters', () => {
    const keywords: string[] = [];
    const info = maildirInfo(['\\Seen', '\\Flagged', '$Forwarded', 'Projekt-X', '\\Answered'], keywords);
    expect(info).toBe(':2,FRSab');
    expect(keywords).toEqual(['$Forwarded', 'Projekt-X']);
    expect(maildirFlags(`123.M1P2.host,S=10,W=12${info}`, keywords).sort()).toEqual(['$Forwarded', 'Projekt-X', '\\Answered', '\\Flagged', '\\Seen']);
    expect(maildirFlags('123.M1P2.host', [])).toEqual([]);
  });

  it("reads dovecot-uidlist's version 3 lines", () => {
    const list = parseDovecotUidlist('3 V1700000000 N4 G0123\n1 :1700.M1P1.host,S=10\n3 W120 :1701.M2P1.host\n');
    expect([...list]).toEqual([
      ['1700.M1P1.host,S=10', 1],
      ['1701.M2P1.host', 3],
    ]);
  });
});

describe('mbox', () => {
  it('asctime and the From_ line date agree', () => {
    const t = Date.UTC(2026, 2, 3, 12, 4, 5);
    expect(asctime(t)).toBe('Tue Mar  3 12:04:05 2026');
    expect(fromLineDate(`From someone@example.org ${asctime(t)}`)).toBe(t);
    expect(fromLineDate('From MAILER-DAEMON Tue Mar  3 12:04:05 CET 2026')).toBe(t);
  });

  it('round-trips every byte and flag, whatever the lines look like (mboxrd)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-mbox-'));
    const file = join(dir, 'x.mbox');
    const messages = [
      { raw: Buffer.from('Subject: a\r\n\r\nFrom the start\r\n>From quoted\r\n>>From twice\r\n\r\nFrom after a blank\r\n'), flags: ['\\Seen', 'Work'] },
      { raw: Buffer.from('Subject: b\r\n\r\nends with a blank line\r\n\r\n'), flags: ['\\Answered', '\\Flagged', '\\Draft', '\\Deleted'] },
      { raw: Buffer.from('Subject: c\r\nStatus-Like: no\r\n\r\n\xff\xfe 8-bit bytes\r\n', 'latin1'), flags: [] },
    ];
    const w = await openMboxWriter(file);
    for (const [i, m] of messages.entries()) await w.add(m.raw, m.flags, Date.UTC(2026, 0, 1 + i), 'a@b.test');
    await w.close();
    const back = await readAllMessages(file);
    expect(back.map((m) => m.raw.toString('latin1'))).toEqual(messages.map((m) => m.raw.toString('latin1')));
    expect(back.map((m) => m.flags.sort())).toEqual(messages.map((m) => [...m.flags].sort()));
    expect(back.map((m) => m.internalDate)).toEqual([0, 1, 2].map((i) => Date.UTC(2026, 0, 1 + i)));
  });

  it("reads mutt's LF mbox: CRLF added, Status fields taken out and read", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-mbox-'));
    const file = join(dir, 'inbox');
    writeFileSync(
      file,
      'From x@y Mon Nov  2 10:00:00 2026\nSubject: one\nStatus: RO\nX-Status: F\n\nbody\n\nFrom x@y Mon Nov  2 10:01:00 2026\nSubject: two\n\n>From here\n',
    );
    const back = await readAllMessages(file);
    expect(back.map((m) => m.raw.toString())).toEqual(['Subject: one\r\n\r\nbody\r\n', 'Subject: two\r\n\r\nFrom here\r\n']);
    expect(back.map((m) => m.flags)).toEqual([['\\Seen', '\\Flagged'], []]);
    expect(toCrlf(Buffer.from('a\r\nb\n')).toString()).toBe('a\r\nb\n');
  });
});
