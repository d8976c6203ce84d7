/**
 * Interop: the corpus against Dovecot's own ENVELOPE / BODYSTRUCTURE / BODY. Runs when Dovecot's
 * imap binary is installed (Debian: dovecot-imapd), talking to it in PREAUTH mode over a pipe,
 * one Maildir per message; skipped otherwise. Values are compared as parsed IMAP data, since
 * Dovecot and @postern/imap choose literals and quoted strings differently.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isExecutable, requirement } from '@postern/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { indexMessage } from './index.js';

const IMAP_BIN = '/usr/lib/dovecot/imap';
const available =
  requirement('MIME structure against Dovecot (packages/mime)', [{ what: 'dovecot', ok: isExecutable(IMAP_BIN), install: 'apt-get install dovecot-imapd' }]) ===
  null;
const corpusDir = fileURLToPath(new URL('../test/corpus/', import.meta.url));

/** Where we differ from Dovecot 2.3 on purpose, and why. */
const DEVIATIONS: Record<string, string> = {
  'bare-lf.eml': 'Dovecot reports sizes with LF counted as CRLF; we report the stored octets',
  'boundary-prefix-and-padding.eml': 'an invalid Content-Type ("text") is text/plain per RFC 2045 §5.2',
  'garbage-content-type.eml': 'an invalid Content-Type is text/plain per RFC 2045 §5.2',
  'content-type-trailing-garbage.eml': 'an invalid Content-Type (junk after the subtype) is text/plain per RFC 2045 §5.2',
  'message-global.eml': 'message/global carries envelope and structure per RFC 9051 §7.5.2; Dovecot 2.3 treats it as opaque',
  'raw-8bit-headers.eml': 'non-UTF-8 header octets are sent as UTF-8 (read as Latin-1); Dovecot sends the raw octets',
  'deep-nesting-120.eml': 'our default maxDepth is 32, Dovecot nests up to 100',
};

type Value = null | string | Value[];

/** Reads one IMAP value at `pos` of Dovecot's (or our) output, octets read as Latin-1. */
function readValue(buf: Buffer, pos: number): [Value, number] {
  let i = pos;
  const value = (): Value => {
    while (buf[i] === 0x20) i++;
    const c = buf[i];
    if (c === 0x28) {
      i++;
      const list: Value[] = [];
      for (;;) {
        while (buf[i] === 0x20) i++;
        if (buf[i] === 0x29) {
          i++;
          return list;
        }
        if (i >= buf.length) throw new Error('unterminated list');
        list.push(value());
      }
    }
    if (c === 0x22) {
      i++;
      const bytes: number[] = [];
      while (buf[i] !== 0x22) {
        if (buf[i] === 0x5c) i++;
        bytes.push(buf[i]!);
        i++;
      }
      i++;
      return Buffer.from(bytes).toString('utf8');
    }
    if (c === 0x7b) {
      const close = buf.indexOf('}', i);
      const n = Number(buf.toString('latin1', i + 1, close));
      i = close + 3;
      const s = buf.toString('utf8', i, i + n);
      i += n;
      return s;
    }
    const start = i;
    while (i < buf.length && buf[i] !== 0x20 && buf[i] !== 0x29 && buf[i] !== 0x28) i++;
    const atom = buf.toString('latin1', start, i);
    return atom === 'NIL' ? null : atom;
  };
  const v = value();
  return [v, i];
}

describe.skipIf(!available)('Dovecot interop', () => {
  const work = available ? mkdtempSync(join(tmpdir(), 'postern-dovecot-')) : '';
  if (work !== '') chmodSync(work, 0o755);
  const asRoot = process.getuid?.() === 0;
  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  function dovecotFetch(file: string): Record<string, Value> {
    const home = join(work, file);
    const maildir = join(home, 'Maildir');
    for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, d), { recursive: true });
    copyFileSync(join(corpusDir, file), join(maildir, 'cur', '1.host:2,'));
    const conf = join(home, 'dovecot.conf');
    const lines = [
      `mail_location = maildir:${maildir}`,
      `base_dir = ${join(home, 'run')}`,
      `state_dir = ${join(home, 'state')}`,
      `log_path = ${join(home, 'log')}`,
      'ssl = no',
    ];
    if (asRoot) {
      // Dovecot refuses to read mail as root
      lines.push('mail_uid = nobody', 'mail_gid = nogroup');
      const chownAll = (p: string): void => {
        chownSync(p, 65534, 65534);
        if (!p.endsWith(',') && !p.endsWith('.conf')) for (const e of readdirSync(p)) chownAll(join(p, e));
      };
      chownAll(home);
    }
    writeFileSync(conf, `${lines.join('\n')}\n`);
    const input = 'a SELECT INBOX\r\nb FETCH 1 (ENVELOPE)\r\nc FETCH 1 (BODYSTRUCTURE)\r\nd FETCH 1 (BODY)\r\ne LOGOUT\r\n';
    // stdin a real pipe and stdout a file: Dovecot's imap takes a socket on stdin for inetd and
    // refuses it, and Node's stdio pipes are socket pairs
    writeFileSync(join(home, 'in'), input);
    const r = spawnSync('/bin/sh', ['-c', `cat in | ${IMAP_BIN} -c dovecot.conf > out`], {
      cwd: home,
      env: { ...process.env, USER: 'postern', HOME: home },
      timeout: 10_000,
    });
    const out = readFileSync(join(home, 'out'));
    const res: Record<string, Value> = {};
    for (const key of ['ENVELOPE', 'BODYSTRUCTURE', 'BODY']) {
      const marker = `FETCH (${key} `;
      const at = out.indexOf(marker);
      if (at === -1) throw new Error(`no ${key} from Dovecot: ${out.toString('latin1').slice(0, 500)} ${r.stderr.toString()}`);
      res[key] = readValue(out, at + marker.length)[0];
    }
    return res;
  }

  const files = available
    ? readdirSync(corpusDir)
        .filter((f) => f.endsWith('.eml') && DEVIATIONS[f] === undefined)
        .sort()
    : [];
  for (const file of files) {
    it(`${file} matches Dovecot`, () => {
      const raw = readFileSync(join(corpusDir, file));
      const m = indexMessage(raw);
      const dc = dovecotFetch(file);
      expect(readValue(Buffer.from(m.envelope, 'utf8'), 0)[0]).toEqual(dc['ENVELOPE']);
      expect(readValue(Buffer.from(m.bodyStructure, 'utf8'), 0)[0]).toEqual(dc['BODYSTRUCTURE']);
      expect(readValue(Buffer.from(m.body, 'utf8'), 0)[0]).toEqual(dc['BODY']);
    });
  }
});
