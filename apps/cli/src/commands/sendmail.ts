/**
 * `postern sendmail [-t] [-i] [-f SENDER] [RCPT...]`: reads a message on stdin and queues it,
 * like sendmail(8), without any network: it writes queue.db directly (one transaction,
 * synchronous=FULL), and the transfer app notices the commit (PRAGMA data_version) within a
 * fraction of a second. For cron jobs, scripts and local programs.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import addressparser from 'nodemailer/lib/addressparser';
import {
  formatAddress,
  has8bit,
  headerFields,
  headerSection,
  needsSmtpUtf8,
  newId,
  parseAddress,
  QueueStore,
  receivedHeader,
  rfc5322Date,
} from '@postern/core';
import { hostSigningDomain, signMessageSync } from '@postern/trust';
import { CliError, configOf, readAll } from '../context.js';

interface SendmailOptions {
  t?: boolean;
  i?: boolean;
  f?: string;
}

/** Without -i, a line holding a single "." ends the message (sendmail(8) compatibility). */
function cutAtDot(text: string): string {
  const m = /(^|\n)\.\r?\n|(^|\n)\.$/.exec(text);
  return m ? text.slice(0, m.index + (m[1] ?? m[2] ?? '').length) : text;
}

function parseOrFail(address: string, what: string): string {
  try {
    return formatAddress(parseAddress(address));
  } catch (err) {
    throw new CliError(`bad ${what} address "${address}": ${(err as Error).message}`, 64); // EX_USAGE
  }
}

export function register(program: Command): void {
  program
    .command('sendmail')
    .description('queue a message read on stdin, like sendmail(8)')
    .argument('[recipients...]', 'envelope recipients')
    .option('-t', 'take the recipients from To:, Cc: and Bcc: (Bcc: is removed)')
    .option('-i', 'a line with a single "." does not end the message')
    .option('-f <sender>', 'envelope sender (default: your user name at our hostname)')
    .allowUnknownOption(true) // -oi, -odb and friends from old scripts: accepted, ignored
    .action(async (args: string[], o: SendmailOptions, cmd: Command) => {
      const config = configOf(cmd);
      const input = await readAll(process.stdin, config.limits.message_size);
      let text = input.toString('latin1'); // byte-preserving; the bytes go to the queue as read
      if (!o.i) text = cutAtDot(text);
      text = text.replace(/\r?\n/g, '\r\n');
      const { header, bodyOffset } = headerSection(Buffer.from(text, 'latin1'));
      const fields = headerFields(header);
      const recipients = args.filter((a) => !a.startsWith('-')).map((a) => parseOrFail(a, 'recipient'));
      let keptHeader = text.slice(0, bodyOffset);
      if (o.t) {
        for (const [name, value] of fields) {
          if (!/^(to|cc|bcc)$/i.test(name)) continue;
          for (const a of addressparser(Buffer.from(value, 'latin1').toString('utf8'), { flatten: true })) {
            if (a.address) recipients.push(parseOrFail(a.address, 'recipient'));
          }
        }
        // Bcc: recipients must not see each other (RFC 5322 §3.6.3)
        keptHeader = keptHeader.replace(/^Bcc:.*\r\n(?:[ \t].*\r\n)*/gim, '');
      }
      const unique = [...new Set(recipients)];
      if (unique.length === 0) throw new CliError('no recipients (give them as arguments, or use -t)', 64);
      const sender = parseOrFail(o.f ?? `${userInfo().username}@${config.hostname}`, 'sender');
      const id = newId();
      const has = (n: string): boolean => fields.some(([name]) => name.toLowerCase() === n);
      let added = receivedHeader({ by: config.hostname, with: 'local', id, ...(unique.length === 1 ? { for: unique[0]! } : {}) });
      if (!has('from')) added += `From: <${sender}>\r\n`;
      if (!has('date')) added += `Date: ${rfc5322Date()}\r\n`;
      if (!has('message-id')) added += `Message-ID: <${id}@${config.hostname}>\r\n`;
      const unsigned = Buffer.concat([Buffer.from(added), Buffer.from(keptHeader + text.slice(bodyOffset), 'latin1')]);
      // DKIM (RFC 6376): signed as the From: domain when it, or a parent of it, is ours (has keys).
      const fromValue = fields.find(([name]) => name.toLowerCase() === 'from')?.[1];
      const fromAddress = fromValue ? addressparser(Buffer.from(fromValue, 'latin1').toString('utf8'), { flatten: true })[0]?.address : sender;
      const fromDomain = fromAddress?.includes('@') ? fromAddress.slice(fromAddress.lastIndexOf('@') + 1) : '';
      const signer = fromDomain ? hostSigningDomain(config, fromDomain) : null;
      const data = signer ? signMessageSync(unsigned, { config, domain: signer }) : unsigned;
      const queue = QueueStore.open(config);
      try {
        queue.enqueueNow({
          id,
          sender,
          recipients: unique.map((address) => ({ address })),
          data,
          origin: 'sendmail',
          client: `uid ${process.getuid?.() ?? '?'}`,
          body8bit: has8bit(data),
          smtputf8: unique.some((r) => needsSmtpUtf8(parseAddress(r))) || needsSmtpUtf8(parseAddress(sender)),
        });
      } finally {
        queue.close();
      }
    });
}
