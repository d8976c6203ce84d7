/**
 * `postern sendmail [options] [recipient ...]`, also run as `sendmail`, `mailq` and `newaliases`
 * through a link of that name: the sendmail(8) interface with Postfix's options (sendmail(1)),
 * for cron, mutt, mail(1), PHP's mail() and scripts.
 *
 * The account that owns the data directory writes queue.db directly (one transaction,
 * synchronous=FULL; the transfer app notices the commit). Anyone else, root included, writes a
 * file into the maildrop directory (`sendmail.maildrop`, mode 1733), which the transfer app picks
 * up: the file's owner, as the kernel records it, is the sender (root and the owner may name any
 * sender with -f), so no local user can send as another.
 *
 * Options are read as sendmail does, with getopt(3): bundled (`-ti`), values attached or next
 * (`-froot`, `-f root`), `--` ends them. Exit codes are sysexits(3).
 */
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { userInfo } from 'node:os';
import addressparser from 'nodemailer/lib/addressparser';
import {
  completeAddress,
  encodeDrop,
  has8bit,
  localMessage,
  localSender,
  loadConfig,
  needsSmtpUtf8,
  newId,
  parseAddress,
  QueueStore,
  type Config,
  type DropEnvelope,
  type LocalIdentity,
} from '@postern/core';
import { headerFields, unfoldedValue, withoutFields } from '@postern/header';
import { signLocalMessage } from '@postern/trust';
import { CliError, readAll } from '../context.js';

const EX_USAGE = 64;
const EX_NOPERM = 77;
const EX_CANTCREAT = 73;

export type SendmailMode = 'deliver' | 'list-queue' | 'flush-queue' | 'newaliases';

export interface SendmailRequest {
  mode: SendmailMode;
  /** -qI queue id: flush only that message. */
  flushId: string | null;
  extractRecipients: boolean;
  /** -i / -oi: a line holding a single "." is data, not the end. */
  ignoreDots: boolean;
  sender: string | null;
  fullName: string | null;
  /** -B: 7BIT or 8BITMIME (we look at the bytes anyway, so only checked). */
  bodyType: '7BIT' | '8BITMIME' | null;
  notify: string[] | null;
  ret: 'FULL' | 'HDRS' | null;
  envid: string | null;
  configFile: string | null;
  recipients: string[];
}

/** Options that take a value (getopt's "x:"), per Postfix sendmail(1). */
const WITH_VALUE = new Set(['A', 'B', 'b', 'C', 'F', 'f', 'h', 'L', 'N', 'O', 'o', 'R', 'r', 'V', 'X']);
/** Accepted and ignored, as Postfix ignores them. */
const IGNORED_FLAGS = new Set(['G', 'm', 'n', 'U', 'x']);

function usage(message: string): never {
  throw new CliError(message, EX_USAGE);
}

/** Parses sendmail's argument vector (without the program name). */
export function parseSendmailArgs(argv: readonly string[]): SendmailRequest {
  const r: SendmailRequest = {
    mode: 'deliver',
    flushId: null,
    extractRecipients: false,
    ignoreDots: false,
    sender: null,
    fullName: null,
    bodyType: null,
    notify: null,
    ret: null,
    envid: null,
    configFile: null,
    recipients: [],
  };
  let verbose = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!;
      if (c === 'q') {
        // -q: flush; -qIid, -qRsite: flush (that message, or all: we keep no per-site queue);
        // -qSsite is not implemented by Postfix either; -q<interval> is ignored.
        const rest = arg.slice(j + 1);
        if (rest === '') r.mode = 'flush-queue';
        else if (rest[0] === 'I') [r.mode, r.flushId] = ['flush-queue', rest.slice(1) || usage('-qI needs a queue id')];
        else if (rest[0] === 'R') r.mode = 'flush-queue';
        else if (rest[0] === 'S') usage('-qS is not implemented; use sendmail -q');
        else if (!/^\d+[smhdw]?$/.test(rest)) usage(`bad -q argument "${rest}"`);
        break;
      }
      if (WITH_VALUE.has(c)) {
        let value = arg.slice(j + 1);
        if (value === '') {
          if (i + 1 >= argv.length) usage(`option -${c} needs a value`);
          value = argv[++i]!;
        }
        option(r, c, value);
        break;
      }
      if (c === 't') r.extractRecipients = true;
      else if (c === 'i') r.ignoreDots = true;
      else if (c === 'I') r.mode = 'newaliases';
      else if (c === 'v') verbose = true;
      else if (!IGNORED_FLAGS.has(c)) usage(`unknown option -${c}`);
    }
  }
  r.recipients = argv.slice(i).map(String);
  // Postfix sendmail(1): -v (as mailx passes it) has the message delivered with a delivery
  // report mailed back; an explicit -N decides instead.
  if (verbose && r.notify === null) r.notify = ['SUCCESS', 'FAILURE', 'DELAY'];
  return r;
}

function option(r: SendmailRequest, c: string, value: string): void {
  switch (c) {
    case 'b':
      if (value === 'm' || value === 'h' || value === 'H') return; // -bm: the default; -bh, -bH: ignored
      if (value === 'p') r.mode = 'list-queue';
      else if (value === 'i') r.mode = 'newaliases';
      else if (value === 'd' || value === 'l') usage(`-b${value} (daemon mode): run \`postern start\` under your service manager instead`);
      else if (value === 's') usage('-bs (SMTP on standard input) is not supported: talk SMTP to the submission port');
      else if (value === 'v') usage('-bv (verify recipients) is not supported: see `postern queue` and the logs');
      else usage(`unknown mode -b${value}`);
      return;
    case 'B': {
      const t = value.toUpperCase();
      if (t !== '7BIT' && t !== '8BITMIME') usage(`-B expects 7BIT or 8BITMIME, found "${value}"`);
      r.bodyType = t;
      return;
    }
    case 'C':
      r.configFile = value;
      return;
    case 'F':
      r.fullName = value;
      return;
    case 'f':
    case 'r':
      r.sender = value;
      return;
    case 'N': {
      // RFC 3461 NOTIFY: never, or a list of success, failure, delay
      const list = value
        .toUpperCase()
        .split(',')
        .map((s) => s.trim());
      if (!(list.length === 1 && list[0] === 'NEVER') && !list.every((s) => ['SUCCESS', 'FAILURE', 'DELAY'].includes(s))) {
        usage(`-N expects "never" or a list of success, failure, delay; found "${value}"`);
      }
      r.notify = list;
      return;
    }
    case 'R': {
      const v = value.toUpperCase();
      if (v !== 'FULL' && v !== 'HDRS') usage(`-R expects full or hdrs, found "${value}"`);
      r.ret = v;
      return;
    }
    case 'V':
      // -V envid (RFC 3461 ENVID); -XV (VERP) is what Postfix 2.2 called -V with a delimiter pair
      if (!/^[\x21-\x7e]{1,100}$/.test(value)) usage('-V expects an envelope id of printable characters');
      r.envid = value;
      return;
    case 'X':
      if (value.startsWith('V')) usage('-XV (VERP) is not supported');
      return; // -X log_file: ignored
    case 'o':
      // -oi is -i; -oA (alias database), -o7, -o8, -om and every other -oX: ignored, as Postfix does
      if (value === 'i') r.ignoreDots = true;
      return;
    default:
      return; // -A, -h, -L, -O: ignored
  }
}

/** Without -i, a line holding a single "." ends the message (sendmail(8) compatibility). */
function cutAtDot(text: string): string {
  const m = /(^|\n)\.\r?\n|(^|\n)\.$/.exec(text);
  return m ? text.slice(0, m.index + (m[1] ?? m[2] ?? '').length) : text;
}

function completeOrFail(address: string, what: string, origin: string): string {
  try {
    return completeAddress(address, origin);
  } catch (err) {
    throw new CliError(`bad ${what} address "${address}": ${(err as Error).message}`, EX_USAGE);
  }
}

/**
 * The config a sendmail run uses: -C FILE, else --config / $POSTERN_CONFIG, else (called as
 * sendmail through a link, by cron) /etc/postern/postern.toml, or ./postern.toml.
 */
function sendmailConfig(request: SendmailRequest, explicit: string | null): Config {
  const file = request.configFile ?? explicit ?? process.env['POSTERN_CONFIG'];
  if (file) return loadConfig(file);
  for (const candidate of ['/etc/postern/postern.toml', 'postern.toml']) {
    try {
      accessSync(candidate, constants.R_OK);
      return loadConfig(candidate);
    } catch {
      // not there (or not readable): the next one, and loadConfig's own message for the last
    }
  }
  return loadConfig('/etc/postern/postern.toml');
}

/**
 * Root and the owner of the data directory may name any sender; only the owner writes the queue
 * itself (root writing it would leave root-owned -wal/-shm files the apps cannot open), root's
 * mail goes through the maildrop like anyone's, as a file the pickup knows is root's.
 */
function identity(config: Config): LocalIdentity & { direct: boolean } {
  const uid = process.getuid?.() ?? 0;
  let owner = 0;
  try {
    owner = statSync(config.dataDir).uid;
  } catch {
    // no data directory yet: only root is trusted
  }
  return { username: userInfo().username, uid, trusted: uid === 0 || uid === owner, direct: uid === owner };
}

/** Where -t finds the recipients (RFC 5322 §3.6.3). */
const RECIPIENT_FIELDS: ReadonlySet<string> = new Set(['to', 'cc', 'bcc']);

const BCC: ReadonlySet<string> = new Set(['bcc']);

interface Prepared {
  data: Buffer;
  recipients: string[];
}

async function readMessage(request: SendmailRequest, config: Config): Promise<Prepared> {
  const input = await readAll(process.stdin, config.limits.message_size);
  let text = input.toString('latin1'); // byte-preserving; the bytes go to the queue as read
  if (!request.ignoreDots) text = cutAtDot(text);
  text = text.replace(/\r?\n/g, '\r\n');
  let data: Buffer = Buffer.from(text, 'latin1');
  const recipients = request.recipients.map((a) => completeOrFail(a, 'recipient', config.origin));
  if (request.extractRecipients) {
    for (const field of headerFields(data, RECIPIENT_FIELDS)) {
      for (const a of addressparser(unfoldedValue(field), { flatten: true })) {
        // addressparser reads a bare "root" (cron's To:) as a display name without an address
        const address = a.address || (/^[^\s@<>()",;:]+$/.test(a.name) ? a.name : '');
        if (address) recipients.push(completeOrFail(address, 'recipient', config.origin));
      }
    }
    // Bcc: recipients must not see each other (RFC 5322 §3.6.3)
    data = withoutFields(data, BCC);
  }
  const unique = [...new Set(recipients)];
  if (unique.length === 0) throw new CliError('no recipients (give them as arguments, or use -t)', EX_USAGE);
  if (unique.length > config.limits.recipients) throw new CliError(`more than ${config.limits.recipients} recipients`, EX_USAGE);
  return { data, recipients: unique };
}

function enqueueDirect(config: Config, who: LocalIdentity, request: SendmailRequest, m: Prepared): void {
  const decision = localSender(request.sender, who, config);
  if (!decision.ok) throw new CliError(decision.reason, EX_NOPERM);
  const sender = decision.sender;
  const id = newId();
  const unsigned = localMessage({
    data: m.data,
    id,
    sender,
    recipients: m.recipients,
    hostname: config.hostname,
    origin: config.origin,
    fullName: request.fullName ?? process.env['NAME'] ?? null,
  });
  const data = signLocalMessage(unsigned, { config, sender, trusted: who.trusted });
  const queue = QueueStore.open(config);
  try {
    queue.enqueueNow({
      id,
      sender,
      recipients: m.recipients.map((address) => ({ address, notify: request.notify })),
      data,
      origin: 'sendmail',
      client: `uid ${who.uid}`,
      envid: request.envid,
      ret: request.ret,
      body8bit: has8bit(data),
      smtputf8: m.recipients.some((r) => needsSmtpUtf8(parseAddress(r))) || (sender !== '' && needsSmtpUtf8(parseAddress(sender))),
    });
  } finally {
    queue.close();
  }
}

/** Writes the message into the maildrop: a hidden name first, renamed once complete. */
function dropOff(config: Config, who: LocalIdentity, request: SendmailRequest, m: Prepared): void {
  // Refused here already so the user hears it; the pickup checks again against the file's owner.
  const decision = localSender(request.sender, who, config);
  if (!decision.ok) throw new CliError(decision.reason, EX_NOPERM);
  const envelope: DropEnvelope = {
    sender: request.sender,
    recipients: m.recipients,
    fullName: request.fullName ?? process.env['NAME'] ?? null,
    notify: request.notify,
    ret: request.ret,
    envid: request.envid,
  };
  const name = randomBytes(12).toString('hex');
  const temp = join(config.maildropDir, `.tmp-${name}`);
  let fd: number;
  try {
    // 0644: the pickup may run as the Postern account, not root; the directory cannot be listed
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError(`cannot write to the maildrop ${config.maildropDir} (${code}); is the transfer app running?`, EX_CANTCREAT);
  }
  try {
    writeSync(fd, encodeDrop(envelope, m.data));
    closeSync(fd);
    renameSync(temp, join(config.maildropDir, name));
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
    throw new CliError(`writing to the maildrop failed: ${(err as Error).message}`, EX_CANTCREAT);
  }
}

/** The program names a distribution links to `postern` (Postfix installs the same three). */
export function sendmailPersona(argv1: string | undefined): 'sendmail' | 'mailq' | 'newaliases' | null {
  const name = basename(argv1 ?? '');
  return name === 'sendmail' || name === 'mailq' || name === 'newaliases' ? name : null;
}

/**
 * Runs sendmail with `argv` (after the program name). `explicitConfig` is postern's --config.
 * `queueCommand` runs `postern queue ARGS` for -bp (mailq) and -q.
 */
export async function runSendmail(
  argv: readonly string[],
  explicitConfig: string | null,
  queueCommand: (args: string[], configFile: string) => Promise<void>,
): Promise<void> {
  const request = parseSendmailArgs(argv);
  if (request.mode === 'newaliases') return; // aliases live in mail.db (`postern alias`): nothing to rebuild
  const config = sendmailConfig(request, explicitConfig);
  if (request.mode === 'list-queue') return queueCommand(['list'], config.file);
  if (request.mode === 'flush-queue') return queueCommand(request.flushId ? ['retry', request.flushId] : ['retry'], config.file);
  const who = identity(config);
  const m = await readMessage(request, config);
  if (who.direct) enqueueDirect(config, who, request, m);
  else dropOff(config, who, request, m);
}
