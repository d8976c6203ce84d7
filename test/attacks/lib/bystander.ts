/**
 * A bystander: another user who keeps using the delivery agent while an attack runs, and how
 * long each of its requests waited. Three probes run side by side, each on its own open
 * connection, one request after another with a short pause: an IMAP NOOP, a POP3 STAT, and a
 * small LMTP delivery (MAIL, RCPT, DATA, the message, its 250). A server whose thread is held
 * (a parse, a regular expression, a query) answers none of them meanwhile, so the slowest
 * answer of each probe is the longest stall a real user saw.
 *
 *   const b = await Bystander.start(a, { address: 'bob@a.test', password: 'bob-password' });
 *   await attack();
 *   const stalls = await b.stop();   // { imap, pop3, lmtp, worst } in ms
 *   console.log(formatStalls('LIST %%%…', stalls));
 */
import { Talk } from '@postern/testkit';

export interface BystanderPorts {
  imap: number;
  pop3: number;
  lmtp: number;
}

export interface BystanderUser {
  address: string;
  password: string;
}

/** The slowest answer of each probe, in ms, and how many requests each made. */
export interface Stalls {
  imap: number;
  pop3: number;
  lmtp: number;
  worst: number;
  requests: { imap: number; pop3: number; lmtp: number };
}

/** What a probe may wait for one answer before the bystander gives up on the server. */
const ANSWER_TIMEOUT_MS = 120_000;

interface Probe {
  name: keyof BystanderPorts;
  worst: number;
  count: number;
  done: Promise<void>;
}

export class Bystander {
  private stopping = false;
  private readonly probes: Probe[] = [];

  private constructor(
    private readonly talks: Talk[],
    private readonly pauseMs: number,
  ) {}

  /**
   * Opens the three sessions (IMAP logged in with INBOX selected, POP3 in the transaction
   * state, LMTP after LHLO) and starts probing. `user` must exist; its mailbox receives the
   * LMTP probe's messages.
   */
  static async start(
    ports: BystanderPorts | { retrieval: { imap: number; pop3: number }; ports: { lmtp: number } },
    user: BystanderUser,
    options: { pauseMs?: number } = {},
  ): Promise<Bystander> {
    const p: BystanderPorts = 'retrieval' in ports ? { imap: ports.retrieval.imap, pop3: ports.retrieval.pop3, lmtp: ports.ports.lmtp } : ports;
    const imap = await Talk.open(p.imap);
    await imap.until(/^\* OK.*\r\n/m);
    await imap.write(`b1 LOGIN ${user.address} ${user.password}\r\nb2 SELECT INBOX\r\n`);
    if (!/^b1 OK/m.test(await imap.until(/^b1 (?:OK|NO|BAD).*\r\n/m))) throw new Error('bystander: IMAP LOGIN refused');
    await imap.until(/^b2 OK.*\r\n/m);

    const pop3 = await Talk.open(p.pop3);
    await pop3.until(/^\+OK.*\r\n/m);
    await pop3.write(`USER ${user.address}\r\n`);
    await pop3.until(/^\+OK.*\r\n/m);
    await pop3.write(`PASS ${user.password}\r\n`);
    if (!/^\+OK/.test(await pop3.until(/^[+-].*\r\n/m))) throw new Error('bystander: POP3 login refused');

    const lmtp = await Talk.open(p.lmtp);
    await lmtp.smtpReply();
    if (!/^250/.test(await lmtp.smtp('LHLO bystander.example'))) throw new Error('bystander: LHLO refused');

    const b = new Bystander([imap, pop3, lmtp], options.pauseMs ?? 10);
    let tag = 0;
    b.probe('imap', async () => {
      const t = `n${++tag}`;
      await imap.write(`${t} NOOP\r\n`);
      await imap.until(new RegExp(`^${t} OK.*\\r\\n`, 'm'), ANSWER_TIMEOUT_MS);
    });
    b.probe('pop3', async () => {
      await pop3.write('STAT\r\n');
      await pop3.until(/^\+OK \d+ \d+\r\n/m, ANSWER_TIMEOUT_MS);
    });
    let n = 0;
    b.probe('lmtp', async () => {
      const expect250 = async (line: string): Promise<void> => {
        const r = await lmtp.smtp(line, ANSWER_TIMEOUT_MS);
        if (!/^(250|354)/.test(r)) throw new Error(`bystander: LMTP ${line.split(' ')[0]} answered ${r}`);
      };
      await expect250('MAIL FROM:<probe@bystander.example>');
      await expect250(`RCPT TO:<${user.address}>`);
      await expect250('DATA');
      await expect250(`From: probe@bystander.example\r\nSubject: bystander probe ${++n}\r\n\r\nstill here?\r\n.`);
    });
    return b;
  }

  private probe(name: keyof BystanderPorts, request: () => Promise<void>): void {
    const probe: Probe = { name, worst: 0, count: 0, done: Promise.resolve() };
    probe.done = (async () => {
      while (!this.stopping) {
        const t = performance.now();
        await request();
        probe.worst = Math.max(probe.worst, performance.now() - t);
        probe.count++;
        await new Promise((r) => setTimeout(r, this.pauseMs));
      }
    })();
    this.probes.push(probe);
  }

  /** Ends the probes (each finishes the request it is waiting for) and closes the sessions. */
  async stop(): Promise<Stalls> {
    this.stopping = true;
    try {
      await Promise.all(this.probes.map((p) => p.done));
    } finally {
      for (const t of this.talks) t.close();
    }
    const of = (name: keyof BystanderPorts): Probe => this.probes.find((p) => p.name === name)!;
    const imap = of('imap');
    const pop3 = of('pop3');
    const lmtp = of('lmtp');
    return {
      imap: imap.worst,
      pop3: pop3.worst,
      lmtp: lmtp.worst,
      worst: Math.max(imap.worst, pop3.worst, lmtp.worst),
      requests: { imap: imap.count, pop3: pop3.count, lmtp: lmtp.count },
    };
  }
}

/** Runs `attack` with a bystander watching; returns what the attack returned and the stalls. */
export async function watched<T>(
  ports: Parameters<typeof Bystander.start>[0],
  user: BystanderUser,
  attack: () => Promise<T>,
): Promise<{ result: T; stalls: Stalls; ms: number }> {
  const b = await Bystander.start(ports, user);
  // a few answers first, so every probe is in its loop when the attack starts
  await new Promise((r) => setTimeout(r, 100));
  const t = performance.now();
  let result: T;
  try {
    result = await attack();
  } catch (err) {
    await b.stop().catch(() => undefined);
    throw err;
  }
  const ms = performance.now() - t;
  return { result, stalls: await b.stop(), ms };
}

export function formatStalls(what: string, s: Stalls, ms?: number): string {
  const took = ms === undefined ? '' : `attack took ${ms.toFixed(0)} ms; `;
  return `${what}: ${took}bystander's worst wait: IMAP NOOP ${s.imap.toFixed(0)} ms, POP3 STAT ${s.pop3.toFixed(0)} ms, LMTP delivery ${s.lmtp.toFixed(0)} ms (${s.requests.imap}/${s.requests.pop3}/${s.requests.lmtp} requests)`;
}
