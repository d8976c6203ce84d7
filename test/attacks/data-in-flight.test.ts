/**
 * Attack: many unfinished transfers of large messages. Forty 20 MB DATA phases left open grew the
 * transfer app by ~780 MB (never given back), forty APPENDs the delivery agent by ~455 MB. Now a
 * message in DATA goes to a spool file under the data directory past 1 MiB, every process caps
 * the bytes it holds in flight (`limits.data_in_flight`), and past the cap a transfer is refused
 * for now: `452 4.3.1` after DATA, `NO [LIMIT]` for an APPEND literal. Nothing accepted is lost,
 * and once the transfers end the budget is free again.
 * An APPEND literal past 1 MiB waits in the spool too while it arrives.
 * Small sizes (2 MB messages, an 8 MB cap) keep it fast; the RSS figures are printed.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';

const MESSAGE_SIZE = 2_000_000;
const IN_FLIGHT = 8_000_000;
const PART = 1_900_000;
const SESSIONS = 10;

let a: FullInstance;

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start({ limits: { message_size: MESSAGE_SIZE, data_in_flight: IN_FLIGHT, connections_per_ip: 50 } });
});

afterAll(async () => {
  await a?.stop();
});

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function waitFor(ok: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await pause(50)) if (Date.now() > end) throw new Error('timed out waiting');
}

/** PART bytes of a message body in 78-byte lines (no line starts with a dot). */
function body(tag: string): string {
  const head = `Subject: ${tag}\r\nX-Tag: ${tag}\r\n\r\n`;
  const line = `${'z'.repeat(76)}\r\n`;
  return head + line.repeat(Math.floor((PART - head.length) / line.length));
}

const spoolFiles = (): string[] => {
  try {
    return readdirSync(join(a.config.dataDir, 'spool'));
  } catch {
    return [];
  }
};

describe('SMTP DATA on port 25', () => {
  it(`${SESSIONS} unfinished ${mb(PART)} DATA phases: spooled, capped at ${mb(IN_FLIGHT)}, the rest 452 4.3.1`, async () => {
    const before = a.memory('transfer');
    const sessions: Talk[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const t = await Talk.open(a.ports.smtp);
      await t.smtpReply();
      await t.smtp('EHLO bulk.example');
      expect(await t.smtp('MAIL FROM:<bulk@outside.example>')).toMatch(/^250/);
      expect(await t.smtp('RCPT TO:<bob@a.test>')).toMatch(/^250/);
      expect(await t.smtp('DATA')).toMatch(/^354/);
      await t.write(body(`flight-${i}`));
      sessions.push(t);
      // let the server take it in before the next one (the order decides who is in the budget)
      await pause(150);
    }
    await pause(500);
    const during = a.memory('transfer');
    const spooled = spoolFiles().length;
    const replies: string[] = [];
    for (const t of sessions) {
      await t.write('\r\n.\r\n');
      replies.push(await t.smtpReply(30_000));
      t.close();
    }
    const accepted = replies.filter((r) => r.startsWith('250')).length;
    const refused = replies.filter((r) => /^452 4\.3\.1 /.test(r)).length;
    console.log(
      `transfer RSS ${mb(before.rss)} before, ${mb(during.rss)} with ${SESSIONS} unfinished DATA phases (+${mb(during.rss - before.rss)} for ${mb(SESSIONS * PART)} sent), ` +
        `${spooled} spool files; ${accepted} accepted, ${refused} refused 452 4.3.1, ${spoolFiles().length} spool files left`,
    );
    expect(replies.filter((r) => !r.startsWith('250') && !/^452 4\.3\.1 /.test(r))).toEqual([]);
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(accepted).toBeLessThanOrEqual(Math.floor(IN_FLIGHT / PART));
    expect(refused).toBeGreaterThanOrEqual(SESSIONS - Math.floor(IN_FLIGHT / PART));
    expect(spooled).toBeGreaterThanOrEqual(1);
    expect(spoolFiles()).toEqual([]);
    // everything accepted is delivered; the budget is free again for the next sender
    await a.waitForMessages('bob@a.test', accepted);
    const t = await Talk.open(a.ports.smtp);
    await t.smtpReply();
    await t.smtp('EHLO bulk.example');
    await t.smtp('MAIL FROM:<bulk@outside.example>');
    await t.smtp('RCPT TO:<bob@a.test>');
    await t.smtp('DATA');
    await t.write(`${body('after')}.\r\n`);
    expect(await t.smtpReply(30_000)).toMatch(/^250 /);
    t.close();
  });
});

describe('the spool after a crash', () => {
  it('a file a killed process left behind is removed when the app starts again', async () => {
    mkdirSync(join(a.config.dataDir, 'spool'), { recursive: true });
    // beyond any pid_max: no such process runs
    writeFileSync(join(a.config.dataDir, 'spool', '2147483646-left-behind'), 'x'.repeat(1000));
    await a.restart('transfer');
    expect(spoolFiles()).toEqual([]);
  });
});

describe('IMAP APPEND in the delivery agent', () => {
  async function loggedIn(): Promise<Talk> {
    const t = await Talk.open(a.retrieval.imap);
    await t.until(/^\* OK.*\r\n/m);
    await t.write('l LOGIN alice@a.test alice-password\r\n');
    await t.until(/^l OK.*\r\n/m);
    return t;
  }

  it(`APPENDs of ${mb(PART)} held open: capped at ${mb(IN_FLIGHT)}, the rest NO [LIMIT]`, async () => {
    // the messages the MX test delivered are indexed first: that work is not the APPENDs'
    await a.waitForSearchIndex();
    const before = a.memory('delivery');
    const held: Talk[] = [];
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const t = await loggedIn();
      await t.write(`a APPEND INBOX {${PART}}\r\n`);
      const answer = await t.until(/^(\+|a NO|a BAD).*\r\n/m);
      answers.push(answer.trim());
      if (answer.startsWith('+')) {
        // most of the literal, then nothing: an APPEND left open
        await t.write(Buffer.alloc(PART - 1000, 0x61));
        held.push(t);
      } else {
        t.close();
      }
    }
    await pause(500);
    const during = a.memory('delivery');
    const spooled = spoolFiles().length;
    const ready = answers.filter((x) => x.startsWith('+')).length;
    const limited = answers.filter((x) => /^a NO \[LIMIT\]/.test(x)).length;
    console.log(
      `delivery RSS ${mb(before.rss)} before, ${mb(during.rss)} with ${held.length} APPENDs held open (+${mb(during.rss - before.rss)} for ${mb(held.length * (PART - 1000))} sent), ` +
        `${spooled} spool files; ${ready} got "+", ${limited} got NO [LIMIT]`,
    );
    expect(ready).toBe(Math.floor(IN_FLIGHT / PART));
    expect(limited).toBe(6 - ready);
    expect(spooled).toBe(held.length);
    for (const t of held) {
      await t.write(Buffer.alloc(1000, 0x61));
      await t.write('\r\n');
      expect(await t.until(/^a (OK|NO|BAD).*\r\n/m)).toMatch(/^a OK/);
    }
    expect(spoolFiles()).toEqual([]);
    // done: the budget is back
    const t = await loggedIn();
    await t.write(`b APPEND INBOX {${PART}}\r\n`);
    expect(await t.until(/^(\+|b NO|b BAD).*\r\n/m)).toMatch(/^\+/);
    await t.write(Buffer.alloc(PART / 2, 0x61));
    await pause(300);
    expect(spoolFiles()).toHaveLength(1);
    // a client that leaves halfway through takes its spool file with it
    t.close();
    await waitFor(() => spoolFiles().length === 0);
    for (const h of held) h.close();
  });
});
