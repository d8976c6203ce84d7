/**
 * `postern mail`: a mail user agent in the terminal. It is an ordinary client: it reads over IMAP
 * (imapflow) and sends over SMTP submission with AUTH (nodemailer), with the user's own address
 * and password, exactly like Thunderbird; it never opens mail.db. Without `--imap`/`--smtp` it
 * uses the listeners of the configured instance.
 *
 *   postern mail --user ann@example.org send --to bob@example.org --subject Hi < body.txt
 *   postern mail --user ann@example.org list [FOLDER] [--json]
 *   postern mail --user ann@example.org read UID [FOLDER]
 *   postern mail --user ann@example.org search QUERY [--json]
 *
 * The password comes from `--password-stdin` (the first line of standard input; for `send`,
 * the body follows on the next lines), $POSTERN_PASSWORD, or a prompt.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { ImapFlow, type FetchMessageObject, type MessageAddressObject, type MessageStructureObject } from 'imapflow';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { NodemailerError } from 'nodemailer/lib/errors';
import { htmlToText } from '@postern/mime';
import { clientEndpoint, splitHostPort, type Config, type Endpoint } from '@postern/core';
import { CliError, configOf, printRows, readAll } from '../context.js';
import { askHidden } from '../password-input.js';

// ---- where to connect -------------------------------------------------------------------

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

function endpointFrom(flag: string | undefined, kind: 'imap' | 'smtp', cmd: Command): Endpoint {
  if (flag !== undefined) {
    if (!HOST_PORT.test(flag)) throw new CliError(`--${kind} needs HOST:PORT, got "${flag}"`);
    let config: Config | null = null;
    try {
      config = configOf(cmd);
    } catch {
      // --imap/--smtp work without a config file (any server)
    }
    const port = splitHostPort(flag).port;
    return clientEndpoint(flag, kind === 'imap' ? port === 993 : port === 465, config);
  }
  const config = configOf(cmd);
  const l = config.listen;
  if (kind === 'imap') {
    if (l.imap) return clientEndpoint(l.imap, false, config);
    if (l.imaps) return clientEndpoint(l.imaps, true, config);
    throw new CliError('the configuration has no IMAP listener: give --imap HOST:PORT');
  }
  if (l.submission) return clientEndpoint(l.submission, false, config);
  if (l.submissions) return clientEndpoint(l.submissions, true, config);
  throw new CliError('the configuration has no submission listener: give --smtp HOST:PORT');
}

// ---- who is asking -------------------------------------------------------------------------

interface MailOptions {
  user?: string;
  passwordStdin?: boolean;
  imap?: string;
  smtp?: string;
}

interface Credentials {
  user: string;
  password: string;
  /** With --password-stdin: what followed the password line (the body, for `send`). */
  rest: Buffer | null;
}

async function prompt(text: string): Promise<string> {
  if (!process.stdin.isTTY) throw new CliError('no terminal to ask for the password: use --password-stdin or POSTERN_PASSWORD');
  return askHidden(text);
}

async function credentials(cmd: Command, limit: number): Promise<Credentials> {
  const o = mailOptions(cmd);
  const user = o.user ?? process.env['POSTERN_USER'];
  if (!user) throw new CliError('who are you? give --user ADDRESS (or set POSTERN_USER)');
  if (o.passwordStdin) {
    const all = await readAll(process.stdin, limit);
    const nl = all.indexOf(10);
    const first = (nl < 0 ? all : all.subarray(0, nl)).toString('utf8').replace(/\r$/, '');
    if (first === '') throw new CliError('no password on standard input');
    return { user, password: first, rest: nl < 0 ? Buffer.alloc(0) : all.subarray(nl + 1) };
  }
  const env = process.env['POSTERN_PASSWORD'];
  if (env !== undefined && env !== '') return { user, password: env, rest: null };
  return { user, password: await prompt(`Password for ${user}: `), rest: null };
}

function mailOptions(cmd: Command): MailOptions {
  let c: Command | null = cmd;
  while (c && c.name() !== 'mail') c = c.parent;
  return (c ?? cmd).opts<MailOptions>();
}

// ---- IMAP ----------------------------------------------------------------------------------

async function withImap<T>(cmd: Command, creds: Credentials, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const ep = endpointFrom(mailOptions(cmd).imap, 'imap', cmd);
  const client = new ImapFlow({
    host: ep.host,
    port: ep.port,
    secure: ep.implicitTls,
    ...(ep.implicitTls ? {} : ep.requireTls ? { doSTARTTLS: true } : {}),
    tls: ep.tls,
    auth: { user: creds.user, pass: creds.password },
    logger: false,
    disableAutoIdle: true,
    clientInfo: { name: 'postern mail' },
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
  });
  client.on('error', () => undefined); // reported through the failing command
  try {
    await client.connect();
  } catch (err) {
    const e = err as { authenticationFailed?: boolean; message?: string; code?: string };
    if (e.authenticationFailed) throw new CliError(`the IMAP server at ${ep.host}:${ep.port} refused the login for ${creds.user}`, 77);
    throw new CliError(`cannot reach the IMAP server at ${ep.host}:${ep.port}: ${e.message ?? e.code ?? String(err)}`, 69);
  }
  try {
    return await fn(client);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

async function inFolder<T>(c: ImapFlow, folder: string, fn: () => Promise<T>): Promise<T> {
  let lock: Awaited<ReturnType<ImapFlow['getMailboxLock']>> | undefined;
  try {
    lock = await c.getMailboxLock(folder);
  } catch (err) {
    throw new CliError(`no folder "${folder}": ${(err as { responseText?: string }).responseText ?? (err as Error).message}`);
  }
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Terminal safety: a message must not be able to send escape sequences to the terminal. */
export function clean(text: string, keepNewlines = false): string {
  const t = keepNewlines ? text.replace(/\r\n?/g, '\n') : text.replace(/[\r\n\t]+/g, ' ');
  return t.replace(keepNewlines ? /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g : /[\x00-\x1f\x7f-\x9f]/g, '');
}

function addr(list: MessageAddressObject[] | undefined): string {
  return (list ?? []).map((a) => (a.name ? `${a.name} <${a.address ?? ''}>` : (a.address ?? ''))).join(', ');
}

interface Row {
  uid: number;
  date: string;
  from: string;
  subject: string;
  size: number;
  flags: string[];
  attachments: boolean;
}

function leafParts(node: MessageStructureObject, out: MessageStructureObject[] = []): MessageStructureObject[] {
  if (node.childNodes && node.childNodes.length > 0) for (const c of node.childNodes) leafParts(c, out);
  else out.push(node);
  return out;
}

function isAttachment(p: MessageStructureObject): boolean {
  const type = (p.type ?? '').toLowerCase();
  const named = Boolean(p.dispositionParameters?.['filename'] ?? p.parameters?.['name']);
  return p.disposition === 'attachment' || (named && !type.startsWith('text/')) || type === 'message/rfc822';
}

function toRow(m: FetchMessageObject): Row {
  const date = m.envelope?.date ?? m.internalDate;
  const d = date ? new Date(date) : null;
  return {
    uid: m.uid,
    date: d && !Number.isNaN(d.getTime()) ? d.toISOString().slice(0, 16).replace('T', ' ') : '',
    from: clean(addr(m.envelope?.from)),
    subject: clean(m.envelope?.subject ?? ''),
    size: m.size ?? 0,
    flags: [...(m.flags ?? [])],
    attachments: m.bodyStructure ? leafParts(m.bodyStructure).some(isAttachment) : false,
  };
}

const ROW_QUERY = { uid: true, envelope: true, flags: true, size: true, internalDate: true, bodyStructure: true } as const;

function printMessages(rows: Row[], json: boolean): void {
  if (json) {
    printRows(rows as unknown as Array<Record<string, unknown>>, [], true);
    return;
  }
  printRows(
    rows.map((r) => ({ ...r, flags: r.flags.join(' '), subject: `${r.attachments ? '[@] ' : ''}${r.subject}` })),
    ['uid', 'date', 'from', 'subject', 'size', 'flags'],
    false,
  );
}

async function downloadText(c: ImapFlow, uid: number, part: string): Promise<string> {
  const d = await c.download(String(uid), part, { uid: true, maxBytes: 4 * 1024 * 1024 });
  if (!d.content) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of d.content) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// ---- SMTP ----------------------------------------------------------------------------------

function sendErrorText(err: NodemailerError, size: number): string {
  const said = (err.response ?? '').replace(/^\d{3}[ -](?:\d\.\d{1,3}\.\d{1,3} )?/, '').trim();
  if (err.code === 'EAUTH') return 'the submission server refused the login';
  if (err.code === 'EENVELOPE' && err.rejectedErrors?.length) {
    return `the server refused ${err.rejectedErrors.map((e) => `${e.recipient ?? '?'} (${(e.response ?? '').replace(/^\d{3} /, '')})`).join(', ')}; nothing was sent`;
  }
  if (err.responseCode === 552 || /size|too (big|large)/i.test(said)) return `the message (${size} bytes) is too big for the server: ${said}`;
  if (['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'ETLS'].includes(err.code ?? '')) return `cannot reach the submission server: ${err.message}`;
  return `the server refused the message: ${said || err.message}`;
}

async function sentFolder(c: ImapFlow): Promise<string> {
  const list = await c.list();
  const found = list.find((f) => f.specialUse === '\\Sent') ?? list.find((f) => ['sent', 'sent messages', 'sent items'].includes(f.path.toLowerCase()));
  if (found) return found.path;
  await c.mailboxCreate('Sent');
  return 'Sent';
}

const collect = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];

// ---- commands ------------------------------------------------------------------------------

export function register(program: Command): void {
  const mail = program
    .command('mail')
    .description('read and send mail as a user, over IMAP and SMTP submission (a terminal mail client)')
    .option('--user <address>', 'your email address (default: $POSTERN_USER)')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .option('--imap <host:port>', 'IMAP server (default: the configured IMAP listener)')
    .option('--smtp <host:port>', 'submission server (default: the configured submission listener)');

  mail
    .command('send')
    .description('send a message; the body comes from --body or standard input')
    .requiredOption('--to <address...>', 'recipients (repeat or separate with commas)', collect)
    .option('--cc <address...>', 'copy recipients', collect)
    .option('--bcc <address...>', 'hidden recipients', collect)
    .requiredOption('--subject <text>', 'subject')
    .option('--attach <file...>', 'files to attach')
    .option('--body <text>', 'the message text (otherwise read from standard input)')
    .option('--no-save', 'do not keep a copy in the Sent folder')
    .action(async (o: { to: string[]; cc?: string[]; bcc?: string[]; subject: string; attach?: string[]; body?: string; save: boolean }, cmd: Command) => {
      const limit = 64 * 1024 * 1024;
      const creds = await credentials(cmd, limit);
      let body: string;
      if (o.body !== undefined) body = o.body;
      else if (creds.rest !== null) body = creds.rest.toString('utf8');
      else if (process.stdin.isTTY) {
        process.stderr.write('Type the message; end with Ctrl-D.\n');
        body = (await readAll(process.stdin, limit)).toString('utf8');
      } else body = (await readAll(process.stdin, limit)).toString('utf8');

      const attachments = (o.attach ?? []).map((file) => {
        try {
          if (!statSync(file).isFile()) throw new Error('not a file');
          return { filename: basename(file), content: readFileSync(file) };
        } catch (err) {
          throw new CliError(`cannot attach ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      });
      const domain = creds.user.slice(creds.user.lastIndexOf('@') + 1) || 'localhost';
      const messageId = `<${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 12)}@${domain}>`;
      const date = new Date();
      const build = async (keepBcc: boolean): Promise<Buffer> => {
        const node = new MailComposer({
          from: creds.user,
          to: o.to,
          cc: o.cc,
          bcc: o.bcc,
          subject: o.subject,
          text: body.replace(/\r?\n/g, '\r\n'),
          messageId,
          date,
          attachments,
          headers: { 'User-Agent': 'postern mail' },
          disableFileAccess: true,
          disableUrlAccess: true,
        }).compile();
        node.keepBcc = keepBcc;
        return node.build();
      };
      const wire = await build(false);
      const ep = endpointFrom(mailOptions(cmd).smtp, 'smtp', cmd);
      const transport = nodemailer.createTransport({
        host: ep.host,
        port: ep.port,
        secure: ep.implicitTls,
        requireTLS: !ep.implicitTls && ep.requireTls,
        auth: { user: creds.user, pass: creds.password },
        tls: ep.tls,
        connectionTimeout: 15_000,
        logger: false,
      });
      const recipients = [...new Set([...o.to, ...(o.cc ?? []), ...(o.bcc ?? [])])];
      let rejected: string[] = [];
      try {
        const info = await transport.sendMail({ envelope: { from: creds.user, to: recipients }, raw: wire });
        rejected = (info.rejected ?? []).map(String);
      } catch (err) {
        throw new CliError(sendErrorText(err as NodemailerError, wire.length), 75);
      } finally {
        transport.close();
      }
      const accepted = recipients.filter((r) => !rejected.includes(r));
      process.stdout.write(`sent ${messageId} to ${accepted.join(', ')}\n`);
      if (rejected.length > 0) process.stderr.write(`postern: the server refused ${rejected.join(', ')}\n`);
      if (o.save) {
        // RFC 6409 leaves the Sent copy to the client, as every mail program keeps one.
        const stored = await build(true);
        await withImap(cmd, creds, async (c) => {
          await c.append(await sentFolder(c), stored, ['\\Seen'], date);
        }).catch((err: Error) => process.stderr.write(`postern: sent, but no copy kept in Sent: ${err.message}\n`));
      }
      if (rejected.length > 0) process.exitCode = 1;
    });

  mail
    .command('list [folder]')
    .description('the newest messages of a folder (default INBOX): uid, date, from, subject, size, flags')
    .option('--json', 'print JSON')
    .option('--limit <n>', 'at most N messages', '20')
    .option('--page <n>', 'page N (0 = newest)', '0')
    .action(async (folder: string | undefined, o: { json?: boolean; limit: string; page: string }, cmd: Command) => {
      const limit = Number.parseInt(o.limit, 10);
      const page = Number.parseInt(o.page, 10);
      if (!(limit > 0) || !(page >= 0)) throw new CliError('--limit and --page need numbers');
      const creds = await credentials(cmd, 4096);
      const rows = await withImap(cmd, creds, (c) =>
        inFolder(c, folder ?? 'INBOX', async () => {
          // Newest first by sequence number: the last `limit` of `exists`, never the whole folder.
          const exists = c.mailbox ? c.mailbox.exists : 0;
          const hi = exists - page * limit;
          if (hi < 1) return [];
          const out: Row[] = [];
          for await (const m of c.fetch(`${Math.max(1, hi - limit + 1)}:${hi}`, ROW_QUERY)) out.push(toRow(m));
          return out.sort((a, b) => b.uid - a.uid);
        }),
      );
      printMessages(rows, !!o.json);
    });

  mail
    .command('read <uid> [folder]')
    .description('print a message: headers, text and the list of attachments (marks it read)')
    .option('--raw', 'print the message source as stored')
    .action(async (uidText: string, folder: string | undefined, o: { raw?: boolean }, cmd: Command) => {
      const uid = Number(uidText);
      if (!Number.isInteger(uid) || uid <= 0) throw new CliError(`not a UID: ${uidText}`);
      const creds = await credentials(cmd, 4096);
      const box = folder ?? 'INBOX';
      await withImap(cmd, creds, (c) =>
        inFolder(c, box, async () => {
          const m = await c.fetchOne(String(uid), { ...ROW_QUERY, ...(o.raw ? { source: true } : {}) }, { uid: true });
          if (!m || m.uid !== uid) throw new CliError(`no message with UID ${uid} in ${box}`);
          if (o.raw) {
            process.stdout.write(m.source ?? Buffer.alloc(0));
          } else {
            const env = m.envelope;
            const lines = [
              `From:    ${clean(addr(env?.from))}`,
              `To:      ${clean(addr(env?.to))}`,
              ...(env?.cc?.length ? [`Cc:      ${clean(addr(env.cc))}`] : []),
              `Date:    ${env?.date ? new Date(env.date).toUTCString() : ''}`,
              `Subject: ${clean(env?.subject ?? '')}`,
            ];
            const leaves = m.bodyStructure ? leafParts(m.bodyStructure) : [];
            const inline = leaves.filter((p) => !isAttachment(p));
            const plain = inline.find((p) => p.type.toLowerCase() === 'text/plain');
            const html = inline.find((p) => p.type.toLowerCase() === 'text/html');
            let text = '';
            if (plain) text = await downloadText(c, uid, plain.part ?? '1');
            else if (html) text = htmlToText(await downloadText(c, uid, html.part ?? '1'), undefined, 'reading');
            const attachments = leaves.filter(isAttachment).map((p) => {
              const name = p.dispositionParameters?.['filename'] ?? p.parameters?.['name'] ?? `part ${p.part ?? '1'}`;
              return `Attachment: ${clean(name)} (${p.type.toLowerCase()}, ${p.size ?? 0} bytes, part ${p.part ?? '1'})`;
            });
            process.stdout.write(
              `${lines.join('\n')}\n\n${clean(text, true).replace(/\n*$/, '\n')}${attachments.length ? `\n${attachments.join('\n')}\n` : ''}`,
            );
          }
          if (!m.flags?.has('\\Seen')) await c.messageFlagsAdd(String(uid), ['\\Seen'], { uid: true });
        }),
      );
    });

  mail
    .command('search <query>')
    .description('messages whose sender, subject or text contains QUERY, newest first')
    .option('--folder <name>', 'folder to search', 'INBOX')
    .option('--json', 'print JSON')
    .option('--limit <n>', 'at most N messages', '50')
    .action(async (query: string, o: { folder: string; json?: boolean; limit: string }, cmd: Command) => {
      const limit = Number.parseInt(o.limit, 10);
      if (!(limit > 0)) throw new CliError('--limit needs a positive number');
      const creds = await credentials(cmd, 4096);
      const rows = await withImap(cmd, creds, (c) =>
        inFolder(c, o.folder, async () => {
          const uids = ((await c.search({ or: [{ from: query }, { subject: query }, { body: query }] }, { uid: true })) || [])
            .slice()
            .sort((a, b) => b - a)
            .slice(0, limit);
          const out: Row[] = [];
          if (uids.length > 0) for await (const m of c.fetch(uids.join(','), ROW_QUERY, { uid: true })) out.push(toRow(m));
          return out.sort((a, b) => b.uid - a.uid);
        }),
      );
      printMessages(rows, !!o.json);
    });
}
