/**
 * Attack: SMTP smuggling (SEC Consult, December 2023; Postfix CVE-2023-51764, Sendmail
 * CVE-2023-51765, Exim CVE-2023-51766). The attacker ends DATA with something that is *not*
 * `<CR><LF>.<CR><LF>` (RFC 5321 §4.1.1.4) but that some server takes for it, and puts a second
 * transaction after it: a server that stops there accepts a second, forged message. Here:
 *
 * - on port 25, submission and LMTP, every fake terminator is part of the first message (or the
 *   message is refused), never the end of it: one transaction, one reply after the data, and no
 *   stored message whose header is the smuggled one;
 * - the same with the pieces in separate TCP segments (the chunk-boundary variant);
 * - outbound, what we relay carries no bare CR or LF, so no next hop can be fooled either.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/instance.js';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';

let a: FullInstance;
let sink: RecordingSink;

/** A minimal SMTP server that records the exact bytes of each DATA phase (no dot handling). */
interface RecordingSink {
  port: number;
  datas: Buffer[];
  close(): Promise<void>;
}

function startSink(): Promise<RecordingSink> {
  const datas: Buffer[] = [];
  const server: Server = createServer((socket) => {
    let inData = false;
    let buf = Buffer.alloc(0);
    socket.write('220 sink.example ESMTP\r\n');
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end === -1) return;
          datas.push(buf.subarray(0, end + 2));
          buf = buf.subarray(end + 5);
          inData = false;
          socket.write('250 2.0.0 recorded\r\n');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl === -1) return;
        const line = buf.subarray(0, nl).toString('latin1').toUpperCase();
        buf = buf.subarray(nl + 2);
        if (line.startsWith('EHLO')) socket.write('250-sink.example\r\n250 8BITMIME\r\n');
        else if (line.startsWith('DATA')) {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ port: (server.address() as AddressInfo).port, datas, close: () => new Promise((r) => server.close(() => r())) }),
    ),
  );
}

beforeAll(async () => {
  sink = await startSink();
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start({ transfer: { routes: { 'remote.example': `127.0.0.1:${sink.port}` } } });
});

afterAll(async () => {
  await a?.stop();
  await sink?.close();
});

/** Fake end-of-data sequences. `\r\n.\r\n` is the only real one. */
const FAKE_ENDS: ReadonlyArray<[string, string]> = [
  ['<LF>.<CR><LF> (CVE-2023-51764)', '\n.\r\n'],
  ['<LF>.<LF>', '\n.\n'],
  ['<CR><LF>.<LF>', '\r\n.\n'],
  ['<CR>.<CR><LF>', '\r.\r\n'],
  ['<CR><LF>.<CR>', '\r\n.\r'],
  ['<CR>.<CR>', '\r.\r'],
  ['<LF>.<CR>', '\n.\r'],
  ['<CR>.<LF>', '\r.\n'],
  ['<CR><LF>.<NUL><CR><LF>', '\r\n.\0\r\n'],
  ['<CR><LF>. <CR><LF>', '\r\n. \r\n'],
];

const tagOf = (): string => Math.random().toString(36).slice(2, 10);

/** The second transaction the attacker hides in the data. */
function smuggled(tag: string, rcpt: string, forgedFrom: string): string {
  return (
    `MAIL FROM:<${forgedFrom}>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n` +
    `From: <${forgedFrom}>\r\nX-Test: smuggled-${tag}\r\nSubject: smuggled ${tag}\r\n\r\nsmuggled body\r\n`
  );
}

/** Everything that follows the 354: the replies to the data and to QUIT. */
async function afterData(t: Talk, pieces: readonly string[], gapMs: number): Promise<string[]> {
  for (const p of pieces) {
    await t.write(p);
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  await t.write('QUIT\r\n');
  const replies: string[] = [];
  for (let i = 0; i < 10; i++) {
    let r: string;
    try {
      r = await t.smtpReply(5_000);
    } catch {
      break; // closed
    }
    replies.push(r);
    if (r.startsWith('221') || r.startsWith('421')) break;
  }
  t.close();
  return replies;
}

/** Stored messages (all users) whose header section carries `X-Test: <kind>-<tag>`. */
async function storedWithHeader(kind: 'outer' | 'smuggled', tag: string, users: readonly string[]): Promise<number> {
  let n = 0;
  for (const u of users) {
    for (const m of await a.messages(u)) {
      const end = m.raw.search(/\r?\n\r?\n/);
      const header = end === -1 ? m.raw : m.raw.slice(0, end);
      if (header.includes(`X-Test: ${kind}-${tag}`)) n++;
    }
  }
  return n;
}

/** The checks every variant shares: one transaction, and the smuggled one never stored as such. */
async function expectOneTransaction(replies: string[], tag: string): Promise<void> {
  const dataReplies = replies.filter((r) => !r.startsWith('221'));
  // exactly one reply to the data: 250 (one message, the fake end inside it) or a refusal
  expect(dataReplies, JSON.stringify(replies)).toHaveLength(1);
  expect(dataReplies[0]).toMatch(/^(250|5\d\d) /);
  if (dataReplies[0]!.startsWith('250')) {
    await waitFor(async () => (await storedWithHeader('outer', tag, ['alice@a.test'])) === 1, 15_000, 'the outer message');
  } else {
    // give a wrongly accepted message the time to arrive before saying it did not
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(await storedWithHeader('smuggled', tag, ['alice@a.test', 'bob@a.test'])).toBe(0);
  expect(a.withQueue((q) => q.list()).filter((m) => m.sender.includes('bank.example'))).toEqual([]);
}

async function port25(): Promise<Talk> {
  const t = await Talk.open(a.ports.smtp);
  await t.smtpReply();
  await t.smtp('EHLO attacker.example');
  expect(await t.smtp('MAIL FROM:<attacker@outside.example>')).toMatch(/^250/);
  expect(await t.smtp('RCPT TO:<alice@a.test>')).toMatch(/^250/);
  expect(await t.smtp('DATA')).toMatch(/^354/);
  return t;
}

describe('SMTP smuggling on port 25', () => {
  it.each(FAKE_ENDS)('%s does not end the data', async (_name, fake) => {
    const tag = tagOf();
    const t = await port25();
    const replies = await afterData(
      t,
      [`X-Test: outer-${tag}\r\nSubject: outer\r\n\r\nfirst body${fake}${smuggled(tag, 'bob@a.test', 'admin@bank.example')}\r\n.\r\n`],
      0,
    );
    await expectOneTransaction(replies, tag);
  });

  it.each(FAKE_ENDS.slice(0, 4))('%s does not end the data when it arrives in its own TCP segment', async (_name, fake) => {
    const tag = tagOf();
    const t = await port25();
    const replies = await afterData(
      t,
      [`X-Test: outer-${tag}\r\nSubject: outer\r\n\r\nfirst body`, fake, smuggled(tag, 'bob@a.test', 'admin@bank.example'), '\r\n', '.\r\n'],
      40,
    );
    await expectOneTransaction(replies, tag);
  });

  it('a dot-stuffed lone dot as the first data line, in its own segment, is content', async () => {
    const tag = tagOf();
    const t = await port25();
    // "..\r\n" is a line holding "." (RFC 5321 §4.5.2), not the terminator
    const replies = await afterData(t, ['..\r\n', smuggled(tag, 'bob@a.test', 'admin@bank.example'), `X-Test: outer-${tag}\r\n\r\n.\r\n`], 40);
    expect(replies.filter((r) => !r.startsWith('221'))).toEqual([expect.stringMatching(/^250 /)]);
    // one message for alice, holding the would-be second transaction as text; none for bob
    const stored = await waitFor(async () => (await a.messages('alice@a.test')).find((m) => m.raw.includes(`outer-${tag}`)), 15_000, 'the message');
    expect(stored.raw).toContain('MAIL FROM:<admin@bank.example>\r\nRCPT TO:<bob@a.test>');
    expect((await a.messages('bob@a.test')).filter((m) => m.raw.includes(tag))).toEqual([]);
  });
});

describe('SMTP smuggling on submission (to forge another user)', () => {
  it.each(FAKE_ENDS.slice(0, 6))('%s does not end the data', async (_name, fake) => {
    const tag = tagOf();
    const t = await Talk.open(a.ports.submission);
    await t.smtpReply();
    await t.smtp('EHLO client.example');
    expect(await t.smtp(`AUTH PLAIN ${Buffer.from('\0alice@a.test\0alice-password').toString('base64')}`)).toMatch(/^235/);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    // the smuggled transaction would send as bob: spoofing by smuggling
    const replies = await afterData(
      t,
      [`From: alice@a.test\r\nX-Test: outer-${tag}\r\n\r\nhi${fake}${smuggled(tag, 'alice@a.test', 'bob@a.test')}\r\n.\r\n`],
      0,
    );
    await expectOneTransaction(replies, tag);
  });
});

describe('smuggling on LMTP (the delivery agent)', () => {
  it.each(FAKE_ENDS.slice(0, 6))('%s does not end the data', async (_name, fake) => {
    const tag = tagOf();
    const t = await Talk.open(a.ports.lmtp);
    await t.smtpReply();
    await t.smtp('LHLO transfer.example');
    expect(await t.smtp('MAIL FROM:<attacker@outside.example>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    const replies = await afterData(t, [`X-Test: outer-${tag}\r\n\r\nhi${fake}${smuggled(tag, 'bob@a.test', 'admin@bank.example')}\r\n.\r\n`], 0);
    await expectOneTransaction(replies, tag);
  });
});

describe('outbound: what we relay cannot be smuggled further', () => {
  it('normalizes every bare CR and LF before the next hop sees the data', async () => {
    const tag = tagOf();
    const t = await Talk.open(a.ports.submission);
    await t.smtpReply();
    await t.smtp('EHLO client.example');
    await t.smtp(`AUTH PLAIN ${Buffer.from('\0alice@a.test\0alice-password').toString('base64')}`);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<victim@remote.example>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    const body = FAKE_ENDS.map(([, fake]) => `line${fake}${smuggled(tag, 'victim@remote.example', 'admin@bank.example')}`).join('');
    const replies = await afterData(t, [`From: alice@a.test\r\nX-Test: outer-${tag}\r\n\r\n${body}\r\n.\r\n`], 0);
    expect(replies.filter((r) => !r.startsWith('221'))).toHaveLength(1);
    if (!replies[0]!.startsWith('250')) return; // refused outright: nothing to relay
    const data = await waitFor(() => sink.datas.find((d) => d.includes(`X-Test: outer-${tag}`)), 20_000, 'the relayed message');
    const text = data.toString('latin1');
    expect(text.match(/\r(?!\n)/g), 'bare CR').toBeNull();
    expect(text.match(/(?<!\r)\n/g), 'bare LF').toBeNull();
    // and the next hop, ending at the one real terminator, saw one message
    expect(sink.datas.filter((d) => d.includes(tag))).toHaveLength(1);
  });
});
