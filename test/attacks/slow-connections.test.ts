/**
 * Attack: slow connections filling every mail port. Connections that trickle a byte every few
 * seconds from a few dozen addresses once filled `connections_total` on 25, 587, 143 and 110, and
 * outlived every idle timeout (each byte restarted it). Now:
 * - a command line (and SMTP DATA) must arrive whole within its deadline, however it trickles;
 * - an SMTP session, and an IMAP/POP3 session before login, ends at `session_lifetime`;
 * - one /24 holds at most `connections_per_subnet`;
 * - connections not logged in get a share of the slots; past it, a new client displaces the
 *   oldest one that is only waiting, so a user still gets in and logs in.
 * Sockets come from many 127.x.y.z source addresses (all of 127.0.0.0/8 is loopback), limits and
 * deadlines are small, and every loop is bounded; the figures are printed, not asserted as times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';

type Port = 'smtp' | 'submission' | 'imap' | 'pop3';
const PORTS: readonly Port[] = ['smtp', 'submission', 'imap', 'pop3'];

const portOf = (a: FullInstance, p: Port): number => (p === 'imap' ? a.retrieval.imap : p === 'pop3' ? a.retrieval.pop3 : a.ports[p]);
const GREETING: Record<Port, RegExp> = {
  smtp: /^(220|421)[ -].*\r\n/m,
  submission: /^(220|421)[ -].*\r\n/m,
  imap: /^\* (OK|BYE|NO).*\r\n/m,
  pop3: /^(\+OK|-ERR).*\r\n/m,
};
const admittedBy = (greeting: string): boolean => /^(220|\* OK|\+OK)/.test(greeting);

interface Opened {
  t: Talk;
  admitted: boolean;
}

/** Connects from `local`; admitted when the greeting is a welcome (not a refusal). */
async function openFrom(a: FullInstance, port: Port, local: string): Promise<Opened> {
  const t = await Talk.open(portOf(a, port), { localAddress: local });
  const greeting = await t.until(GREETING[port], 10_000);
  return { t, admitted: admittedBy(greeting) };
}

/** Writes `byte` every `everyMs` until the server closes or `maxWrites` passed; ms until closed, or null. */
async function trickle(t: Talk, byte: string, everyMs: number, maxWrites: number): Promise<number | null> {
  const start = Date.now();
  for (let i = 0; i < maxWrites; i++) {
    if (t.closed) return Date.now() - start;
    await t.write(byte);
    if (await t.waitClosed(everyMs)) return Date.now() - start;
  }
  return null;
}

const seconds = (ms: number | null): string => (ms === null ? 'never (bounded loop ended)' : `${(ms / 1000).toFixed(1)} s`);

describe('deadlines a trickling client cannot stretch', () => {
  let a: FullInstance;

  beforeAll(async () => {
    a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
    // the idle timeout (command_timeout) is long: only the deadlines can end these sessions
    await a.start({ limits: { command_timeout: '1m', command_deadline: '2s', data_deadline: '3s', session_lifetime: '8s' } });
  });

  afterAll(async () => {
    await a?.stop();
  });

  it('a command line trickled a byte every 250 ms is cut at command_deadline (2 s) on every port', async () => {
    const results = await Promise.all(
      PORTS.map(async (port, i) => {
        const { t, admitted } = await openFrom(a, port, `127.0.10.${i + 1}`);
        expect(admitted).toBe(true);
        const closedAfter = await trickle(t, 'x', 250, 60);
        t.close();
        return { port, closedAfter, said: t.all.split('\r\n').filter(Boolean).pop() ?? '' };
      }),
    );
    for (const r of results) console.log(`${r.port}: trickled command line closed after ${seconds(r.closedAfter)} (last reply: ${r.said})`);
    for (const r of results) expect(r.closedAfter, `${r.port} kept a trickling command line open`).not.toBeNull();
  });

  it('SMTP DATA trickled a byte every 250 ms is cut at data_deadline (3 s) with 421 4.4.2', async () => {
    const { t } = await openFrom(a, 'smtp', '127.0.11.1');
    await t.smtp('EHLO slow.example');
    expect(await t.smtp('MAIL FROM:<slow@outside.example>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    await t.write('Subject: slow\r\n\r\n');
    const closedAfter = await trickle(t, 'y', 250, 60);
    t.close();
    console.log(`smtp: trickled DATA closed after ${seconds(closedAfter)} (${t.buffer.trim()})`);
    expect(closedAfter).not.toBeNull();
    expect(t.buffer).toMatch(/^421 4\.4\.2 /m);
  });

  it('quick commands forever: an SMTP session, and IMAP/POP3 before login, end at session_lifetime (8 s)', async () => {
    // submission also ends a session after 10 commands without AUTH (smtp-server's own limit)
    const keepAlive: Record<Port, string> = { smtp: 'NOOP\r\n', submission: 'NOOP\r\n', imap: 'a NOOP\r\n', pop3: 'CAPA\r\n' };
    const results = await Promise.all(
      PORTS.map(async (port, i) => {
        const { t } = await openFrom(a, port, `127.0.12.${i + 1}`);
        const closedAfter = await trickle(t, keepAlive[port], 500, 40);
        t.close();
        return { port, closedAfter, said: t.all.split('\r\n').filter(Boolean).pop() ?? '' };
      }),
    );
    for (const r of results) console.log(`${r.port}: a command every 500 ms, session closed after ${seconds(r.closedAfter)} (last reply: ${r.said})`);
    for (const r of results) expect(r.closedAfter, `${r.port} session outlived session_lifetime`).not.toBeNull();
  });

  it('a logged-in IMAP session is not held to the login deadlines (the control)', async () => {
    const { t } = await openFrom(a, 'imap', '127.0.13.1');
    await t.write('a LOGIN alice@a.test alice-password\r\n');
    await t.until(/^a OK.*\r\n/m);
    // longer than command_deadline and session_lifetime together
    for (let i = 0; i < 11; i++) {
      await t.write(`n${i} NOOP\r\n`);
      await t.until(new RegExp(`^n${i} OK.*\\r\\n`, 'm'));
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(t.closed).toBe(false);
    t.close();
  });
});

describe('connection caps: per network, and slots for users who log in', () => {
  let a: FullInstance;
  const TOTAL = 30;

  beforeAll(async () => {
    a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
    await a.start({
      limits: {
        connections_per_ip: 3,
        connections_per_subnet: 6,
        connections_total: TOTAL,
        connections_unauthenticated_percent: 80,
        command_deadline: '1m',
        session_lifetime: '5m',
      },
    });
  });

  afterAll(async () => {
    await a?.stop();
  });

  it('one /24 gets at most connections_per_subnet (6), whatever its number of addresses', async () => {
    for (const port of PORTS) {
      const opened: Opened[] = [];
      for (let host = 1; host <= 4; host++) for (let i = 0; i < 3; i++) opened.push(await openFrom(a, port, `127.0.20.${host}`));
      const fresh = await openFrom(a, port, '127.0.21.1');
      const admitted = opened.filter((o) => o.admitted).length;
      console.log(
        `${port}: 12 connections from 4 addresses of 127.0.20.0/24: ${admitted} admitted; a client from another /24: ${fresh.admitted ? 'admitted' : 'refused'}`,
      );
      for (const o of [...opened, fresh]) o.t.close();
      expect(admitted, port).toBe(6);
      expect(fresh.admitted, port).toBe(true);
      // let the closes reach the server before the next port's count
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it.each(['imap', 'pop3', 'submission'] as const)('%s: a flood of connections not logged in cannot keep alice out', async (port) => {
    const flood: Opened[] = [];
    // 6 networks x 2 addresses x 3 connections = 36, more than the 30 slots
    for (let net = 0; net < 6; net++)
      for (let host = 1; host <= 2; host++) for (let i = 0; i < 3; i++) flood.push(await openFrom(a, port, `127.0.${30 + net}.${host}`));
    await new Promise((r) => setTimeout(r, 200));
    const admitted = flood.filter((o) => o.admitted).length;
    const openAtOnce = flood.filter((o) => o.admitted && !o.t.closed).length;
    const started = Date.now();
    const alice = await openFrom(a, port, '127.0.40.1');
    expect(alice.admitted, `${port}: alice was refused`).toBe(true);
    if (port === 'imap') {
      await alice.t.write('a LOGIN alice@a.test alice-password\r\n');
      expect(await alice.t.until(/^a (OK|NO|BAD).*\r\n/m)).toMatch(/^a OK/m);
    } else if (port === 'pop3') {
      await alice.t.write('USER alice@a.test\r\n');
      await alice.t.until(/^\+OK.*\r\n/m);
      await alice.t.write('PASS alice-password\r\n');
      expect(await alice.t.until(/^[+-].*\r\n/m)).toMatch(/^\+OK/);
    } else {
      await alice.t.smtp('EHLO alice.example');
      expect(await alice.t.smtp(`AUTH PLAIN ${Buffer.from('\0alice@a.test\0alice-password').toString('base64')}`)).toMatch(/^235 /);
    }
    const loggedInMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 200));
    const displaced = flood.filter((o) => o.admitted && o.t.closed).length;
    console.log(
      `${port}: flood of 36 not logged in: ${admitted} greeted, at most ${openAtOnce} open at once (share: ${(TOTAL * 80) / 100} of ${TOTAL}), ${displaced} displaced in all; alice connected and logged in after ${loggedInMs} ms`,
    );
    expect(openAtOnce).toBeLessThanOrEqual((TOTAL * 80) / 100);
    for (const o of [...flood, alice]) o.t.close();
    await new Promise((r) => setTimeout(r, 200));
  });
});
