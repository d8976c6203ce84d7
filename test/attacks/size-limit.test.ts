/**
 * Attack (on ourselves): mail accepted just under the size limit and never delivered. A message
 * of exactly `limits.message_size` bytes got `250` on the MX and on submission, then our own
 * Received:/Authentication-Results:/DKIM-Signature: pushed it over the delivery agent's limit,
 * which refused it (or deferred it for days). The limit applies to what the client sends; our
 * next hop accepts what we add. One byte more is refused at DATA (`552 5.3.4`), the control.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';

const LIMIT = 200_000;
let a: FullInstance;

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start({ limits: { message_size: LIMIT } });
});

afterAll(async () => {
  await a?.stop();
});

/** A message of exactly `size` bytes ending in CRLF, with no line that needs dot-stuffing. */
function messageOf(size: number, tag: string): string {
  const head = `From: alice@a.test\r\nTo: bob@a.test\r\nSubject: ${tag}\r\nX-Tag: ${tag}\r\n\r\n`;
  const line = `${'x'.repeat(76)}\r\n`;
  let body = line.repeat(Math.floor((size - head.length) / line.length) - 1);
  const rest = size - head.length - body.length;
  body += `${'y'.repeat(rest - 2)}\r\n`;
  const m = head + body;
  if (m.length !== size) throw new Error(`built ${m.length} bytes, wanted ${size}`);
  return m;
}

/** Sends one message over a raw session; returns the reply to the data. */
async function send(port: number, size: number, tag: string, auth: boolean): Promise<string> {
  const t = await Talk.open(port);
  try {
    await t.smtpReply();
    await t.smtp('EHLO client.example');
    if (auth) expect(await t.smtp(`AUTH PLAIN ${Buffer.from('\0alice@a.test\0alice-password').toString('base64')}`)).toMatch(/^235 /);
    expect(await t.smtp(`MAIL FROM:<${auth ? 'alice@a.test' : 'sender@outside.example'}>`)).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<bob@a.test>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    // the message ends in CRLF: ".\r\n" completes the terminator (RFC 5321 §4.1.1.4)
    await t.write(`${messageOf(size, tag)}.\r\n`);
    return await t.smtpReply(30_000);
  } finally {
    t.close();
  }
}

const storedSize = async (tag: string): Promise<number | null> => {
  const m = (await a.messages('bob@a.test')).find((x) => x.raw.includes(`X-Tag: ${tag}\r\n`));
  return m ? Buffer.byteLength(m.raw) : null;
};

async function delivered(tag: string, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await storedSize(tag);
    if (n !== null || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe(`a message of exactly limits.message_size (${LIMIT} bytes) is delivered`, () => {
  it.each([
    ['the MX (port 25)', 'smtp', false],
    ['submission (587)', 'submission', true],
  ] as const)('through %s', async (_name, port, auth) => {
    for (const size of [LIMIT - 1, LIMIT]) {
      const tag = `${port}-${size}`;
      expect(await send(a.ports[port], size, tag, auth), `${size} bytes`).toMatch(/^250 /);
      const stored = await delivered(tag, 15_000);
      console.log(`${port}: ${size} bytes sent, 250, stored as ${stored ?? 'nothing'} bytes (${stored === null ? '-' : stored - size} added by our hops)`);
      expect(stored, `${size} bytes through ${port} were acknowledged but not delivered`).not.toBeNull();
    }
    // the control: one byte over is refused while the client still holds the message
    expect(await send(a.ports[port], LIMIT + 1, `${port}-over`, auth)).toMatch(/^552 5\.3\.4 /);
  });
});
