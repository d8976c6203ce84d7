/**
 * Mail clients we did not write, run inside a host of the test network: swaks (SMTP submission
 * with STARTTLS and AUTH), curl (IMAP over implicit TLS), and Python's poplib and smtplib. Each
 * verifies the server's certificate against the file `postern init` made for that host, by its
 * DNS name, so TLS is checked, not waved through.
 *
 * swaks is a Debian package a fresh machine lacks: without it, the same submissions and relays
 * go through Python's smtplib (which every machine has), and the swaks-specific checks are
 * skipped loudly (an error under POSTERN_TEST_ALL=1).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { commandNeed, requirement } from '@postern/testkit';
import type { MailHost } from './mailhost.js';
import type { Network } from './netns.js';

const clientsDir = fileURLToPath(new URL('../clients/', import.meta.url));

export interface Account {
  address: string;
  password: string;
}

export interface SwaksMessage {
  from: string;
  to: readonly string[];
  subject: string;
  body: string;
  headers?: Record<string, string>;
}

/** Whether swaks runs the submissions (else Python's smtplib does). */
export const haveSwaks = requirement('e2e: swaks as the SMTP client (Python smtplib stands in)', [commandNeed('swaks')]) === null;

/** What a submission showed: the reply codes to STARTTLS and AUTH, and the DATA reply. */
export interface Submitted {
  /** swaks' whole transcript, or '' when Python sent it. */
  transcript: string;
  starttls: number | null;
  auth: number | null;
  data: string;
}

/** Python's smtplib sends it (clients/smtp_send.py); the request is its JSON input. */
async function pythonSend(net: Network, from: string, request: object): Promise<{ code: number | null; out: string; result: Submitted | null }> {
  const r = await net.run(from, 'python3', [join(clientsDir, 'smtp_send.py')], { input: JSON.stringify(request), timeoutMs: 60_000 });
  const out = r.stdout.toString('utf8') + r.stderr;
  const line = r.stdout.toString('utf8').trim().split('\n').at(-1) ?? '';
  let result: Submitted | null = null;
  try {
    const j = JSON.parse(line) as { starttls: number | null; auth: number | null; data: string | null };
    result = { transcript: '', starttls: j.starttls, auth: j.auth, data: j.data ?? '' };
  } catch {
    /* refused before DATA: no result line */
  }
  return { code: r.code, out, result };
}

/** A submission over 587 with STARTTLS and AUTH, by swaks (or Python's smtplib). Throws when it fails. */
export async function submit(net: Network, from: string, server: MailHost, account: Account, m: SwaksMessage): Promise<Submitted> {
  if (haveSwaks) {
    const transcript = await swaksSubmit(net, from, server, account, m);
    const code = (re: RegExp): number | null => {
      const x = re.exec(transcript);
      return x ? Number(x[1]) : null;
    };
    // the DATA reply is the last 250 (only QUIT's 221 comes after it)
    const data = [...transcript.matchAll(/^<~ *(250 .*?)\r?$/gm)].at(-1)?.[1] ?? '';
    return { transcript, starttls: code(/^ -> STARTTLS\r?\n<- *(\d{3}) /m), auth: code(/^<~ *(235) /m), data };
  }
  const request = {
    host: server.hostname,
    port: 587,
    cafile: server.certFile,
    user: account.address,
    password: account.password,
    from: m.from,
    to: m.to,
    subject: m.subject,
    body: m.body,
    headers: m.headers ?? {},
  };
  const r = await pythonSend(net, from, request);
  if (r.code !== 0 || !r.result) throw new Error(`python smtplib submission failed (${r.code}):\n${r.out}`);
  return r.result;
}

/** swaks over 587 with STARTTLS and AUTH; returns its transcript. Throws when it fails. */
async function swaksSubmit(net: Network, from: string, server: MailHost, account: Account, m: SwaksMessage): Promise<string> {
  const headers = Object.entries({ Subject: m.subject, ...m.headers }).flatMap(([k, v]) => ['--header', `${k}: ${v}`]);
  const r = await net.runOk(
    from,
    'swaks',
    [
      '--server',
      server.hostname,
      '--port',
      '587',
      '--tls',
      '--tls-verify',
      '--tls-ca-path',
      server.certFile,
      '--auth',
      'PLAIN',
      '--auth-user',
      account.address,
      '--auth-password',
      account.password,
      '--from',
      m.from,
      '--to',
      m.to.join(','),
      ...headers,
      '--body',
      m.body,
      '--timeout',
      '30',
    ],
    { timeoutMs: 60_000 },
  );
  return r.stdout.toString('utf8');
}

/** Port 25 without AUTH or TLS: a stranger handing mail to an MX, by swaks (or Python's smtplib).
 * `data` is the whole message; returns the transcript and the exit code (non-zero when refused). */
export async function relay(
  net: Network,
  from: string,
  mx: string,
  envelope: { from: string; to: string },
  data: string,
): Promise<{ code: number | null; transcript: string }> {
  if (!haveSwaks) {
    const r = await pythonSend(net, from, { host: mx, port: 25, ehlo: 'forger.test', from: envelope.from, to: [envelope.to], data });
    return { code: r.code, transcript: r.out };
  }
  const r = await net.run(
    from,
    'swaks',
    ['--server', mx, '--port', '25', '--ehlo', 'forger.test', '--from', envelope.from, '--to', envelope.to, '--data', '-', '--timeout', '30'],
    { timeoutMs: 60_000, input: data },
  );
  return { code: r.code, transcript: r.stdout.toString('utf8') + r.stderr };
}

function curlArgs(server: MailHost, account: Account): string[] {
  return ['--silent', '--show-error', '--max-time', '60', '--cacert', server.certFile, '--user', `${account.address}:${account.password}`];
}

/** `UID SEARCH <criteria>` in a folder over IMAPS with curl; the UIDs found. */
export async function curlImapSearch(net: Network, from: string, server: MailHost, account: Account, folder: string, criteria: string): Promise<number[]> {
  const r = await net.runOk(
    from,
    'curl',
    [...curlArgs(server, account), `imaps://${server.hostname}/${encodeURIComponent(folder)}`, '--request', `UID SEARCH ${criteria}`],
    {
      timeoutMs: 70_000,
    },
  );
  const line = r.stdout
    .toString('utf8')
    .split(/\r?\n/)
    .find((l) => /^\* SEARCH\b/i.test(l));
  if (line === undefined) throw new Error(`no SEARCH response from curl:\n${r.stdout.toString('utf8')}`);
  return line
    .replace(/^\* SEARCH\s*/i, '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
}

/** The whole message with that UID (BODY[]), byte for byte, fetched by curl over IMAPS. */
export async function curlImapFetch(net: Network, from: string, server: MailHost, account: Account, folder: string, uid: number): Promise<Buffer> {
  const r = await net.runOk(from, 'curl', [...curlArgs(server, account), `imaps://${server.hostname}/${encodeURIComponent(folder)}/;UID=${uid}`], {
    timeoutMs: 70_000,
  });
  return r.stdout;
}

/** Every message of a user's INBOX with that subject text, read with curl over IMAPS. */
export async function curlImapMessages(net: Network, from: string, server: MailHost, account: Account, folder: string, subject: string): Promise<Buffer[]> {
  const uids = await curlImapSearch(net, from, server, account, folder, `SUBJECT "${subject}"`);
  const out: Buffer[] = [];
  for (const uid of uids) out.push(await curlImapFetch(net, from, server, account, folder, uid));
  return out;
}

export interface PopMessage {
  n: number;
  uidl: string;
  raw: Buffer;
}

/** Every message of a user's INBOX, read with Python's poplib over POP3S (995). */
export async function pop3Fetch(net: Network, from: string, server: MailHost, account: Account): Promise<PopMessage[]> {
  const r = await net.runOk(from, 'python3', [join(clientsDir, 'pop3_fetch.py'), server.hostname, '995', server.certFile, account.address], {
    input: `${account.password}\n`,
    timeoutMs: 60_000,
  });
  const list = JSON.parse(r.stdout.toString('utf8')) as Array<{ n: number; uidl: string; raw: string }>;
  return list.map((m) => ({ n: m.n, uidl: m.uidl, raw: Buffer.from(m.raw, 'base64') }));
}

/** Submits a message file with Python's smtplib: STARTTLS, AUTH, SMTPUTF8 and BODY=8BITMIME. */
export async function smtpUtf8Submit(
  net: Network,
  from: string,
  server: MailHost,
  account: Account,
  envelope: { from: string; to: string },
  file: string,
): Promise<void> {
  await net.runOk(
    from,
    'python3',
    [join(clientsDir, 'smtputf8_send.py'), server.hostname, '587', server.certFile, account.address, envelope.from, envelope.to, file],
    { input: `${account.password}\n`, timeoutMs: 120_000 },
  );
}
