/**
 * A small in-memory IMAP server built only from the codec, for talking to real clients in
 * tests (imapflow, python's imaplib). It shows the intended wiring: the framer splits the
 * stream, `parseCommand` types each command, one `reply` path writes every response, and
 * parse/framing errors become BAD. It is not the product server (apps/delivery is): mailbox
 * logic here is the least that lets a client run its usual session.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  capabilityResponse,
  continuation,
  enabledResponse,
  esearchResponse,
  existsResponse,
  expungeResponse,
  fetchResponse,
  flagsResponse,
  FramingError,
  framingErrorResponse,
  idResponse,
  ImapFramer,
  ImapParseError,
  iterateSequenceSet,
  listResponse,
  namespaceResponse,
  parseCommand,
  parseErrorResponse,
  searchResponse,
  sequenceSetContains,
  statusResponse,
  taggedResponse,
  untaggedStatus,
  type Command,
  type CommandOf,
  type FetchResponseItem,
  type ResponseCode,
  type SearchKey,
  type StatusValues,
} from '../src/index.js';

export interface StoredMessage {
  uid: number;
  flags: Set<string>;
  internalDate: Date;
  raw: Buffer;
  envelope: string;
  bodyStructure: string;
}

interface Mailbox {
  name: string;
  specialUse: string[];
  subscribed: boolean;
  uidValidity: number;
  uidNext: number;
  messages: StoredMessage[];
}

export interface ScriptServerOptions {
  capabilities: string[];
  user: string;
  pass: string;
}

class Reply extends Error {
  constructor(
    readonly status: 'NO' | 'BAD',
    message: string,
    readonly code: ResponseCode | null = null,
  ) {
    super(message);
  }
}

export function makeMessage(uid: number, subject: string, body: string, flags: string[] = []): StoredMessage {
  const raw = Buffer.from(
    `From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: ${subject}\r\nMessage-ID: <${uid}@example.org>\r\n\r\n${body}`,
  );
  const bodyBytes = Buffer.byteLength(body);
  const lines = body.split('\r\n').length;
  return {
    uid,
    flags: new Set(flags),
    internalDate: new Date(Date.UTC(2024, 0, uid, 10, 0, 0)),
    raw,
    envelope: `(NIL "${subject}" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Bob" NIL "bob" "example.org")) NIL NIL NIL "<${uid}@example.org>")`,
    bodyStructure: `("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" ${bodyBytes} ${lines} NIL NIL NIL NIL)`,
  };
}

export class ScriptServer {
  readonly commands: Command[] = [];
  readonly errors: Array<ImapParseError | FramingError> = [];
  /** Synchronizing literals the server sent a continuation for. */
  literalsAccepted = 0;
  /** Raw lines read (AUTHENTICATE responses, DONE). */
  rawLines: string[] = [];
  readonly mailboxes = new Map<string, Mailbox>();
  private server: Server;

  constructor(private readonly options: ScriptServerOptions) {
    const mk = (name: string, specialUse: string[], messages: StoredMessage[]): void => {
      this.mailboxes.set(name, { name, specialUse, subscribed: true, uidValidity: 1700000000, uidNext: messages.length + 1, messages });
    };
    mk(
      'INBOX',
      [],
      [
        makeMessage(1, 'Hello', 'first body\r\n', ['\\Seen']),
        makeMessage(2, 'Lunch?', 'second body\r\n'),
        makeMessage(3, 'Report', 'third body\r\nline two\r\n'),
      ],
    );
    mk('Sent', ['\\Sent'], []);
    mk('Trash', ['\\Trash'], []);
    mk('Entwürfe', ['\\Drafts'], []);
    this.server = createServer((socket) => this.session(socket));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private session(socket: Socket): void {
    const framer = new ImapFramer({ maxLiteralSize: 1024 * 1024 });
    let selected: Mailbox | null = null;
    let authenticated = false;
    let busy = false;
    let pendingAuth: string | null = null;
    let idleTag: string | null = null;
    const enabled = new Set<string>();
    const write = (b: Buffer | Buffer[]): void => {
      for (const x of Array.isArray(b) ? b : [b]) socket.write(x);
    };
    write(untaggedStatus('OK', 'Script server ready', { code: 'CAPABILITY', capabilities: this.options.capabilities }));

    const handle = (cmd: Command): void => {
      this.commands.push(cmd);
      const ok = (text: string, code?: ResponseCode): void => write(taggedResponse(cmd.tag, 'OK', text, code));
      if (!authenticated && !['CAPABILITY', 'NOOP', 'LOGOUT', 'LOGIN', 'AUTHENTICATE', 'ID', 'STARTTLS'].includes(cmd.name))
        throw new Reply('NO', 'Log in first');
      switch (cmd.name) {
        case 'CAPABILITY':
          write(capabilityResponse(this.options.capabilities));
          ok('CAPABILITY completed');
          return;
        case 'NOOP':
        case 'CHECK':
          if (selected) write(existsResponse(selected.messages.length));
          ok(`${cmd.name} completed`);
          return;
        case 'LOGOUT':
          write(untaggedStatus('BYE', 'Logging out'));
          ok('LOGOUT completed');
          socket.end();
          return;
        case 'LOGIN':
          if (cmd.username !== this.options.user || cmd.password !== this.options.pass)
            throw new Reply('NO', 'Invalid credentials', { code: 'AUTHENTICATIONFAILED' });
          authenticated = true;
          ok('LOGIN completed', { code: 'CAPABILITY', capabilities: this.options.capabilities });
          return;
        case 'AUTHENTICATE':
          if (cmd.mechanism !== 'PLAIN') throw new Reply('NO', 'Unsupported mechanism');
          if (cmd.initialResponse !== null) {
            finishPlain(cmd.tag, cmd.initialResponse);
            return;
          }
          pendingAuth = cmd.tag;
          framer.readRawLine();
          write(continuation());
          return;
        case 'ID':
          write(idResponse([['name', 'script-server']]));
          ok('ID completed');
          return;
        case 'ENABLE': {
          const now = cmd.capabilities.filter((c) => (c === 'CONDSTORE' || c === 'UTF8=ACCEPT') && !enabled.has(c));
          for (const c of now) enabled.add(c);
          write(enabledResponse(now));
          ok('ENABLE completed');
          return;
        }
        case 'NAMESPACE':
          write(namespaceResponse([{ prefix: '', delimiter: '/' }], null, null));
          ok('NAMESPACE completed');
          return;
        case 'LIST':
        case 'LSUB': {
          const patterns = cmd.name === 'LIST' ? cmd.patterns : [cmd.pattern];
          if (cmd.name === 'LIST' && patterns.length === 1 && patterns[0] === '') {
            write(listResponse({ attributes: ['\\Noselect'], delimiter: '/', name: '' }));
            ok('LIST completed');
            return;
          }
          for (const mb of this.mailboxes.values()) {
            if (!patterns.some((p) => matchPattern(p, mb.name))) continue;
            const attributes = ['\\HasNoChildren', ...mb.specialUse];
            if (cmd.name === 'LIST' && cmd.returnOptions.subscribed && mb.subscribed) attributes.push('\\Subscribed');
            write(listResponse({ attributes, delimiter: '/', name: mb.name }, { command: cmd.name, utf8Accept: enabled.has('UTF8=ACCEPT') }));
            if (cmd.name === 'LIST' && cmd.returnOptions.status)
              write(statusResponse(mb.name, status(mb, cmd.returnOptions.status), { utf8Accept: enabled.has('UTF8=ACCEPT') }));
          }
          ok(`${cmd.name} completed`);
          return;
        }
        case 'STATUS':
          write(statusResponse(cmd.mailbox, status(mailbox(cmd.mailbox), cmd.items), { utf8Accept: enabled.has('UTF8=ACCEPT') }));
          ok('STATUS completed');
          return;
        case 'SELECT':
        case 'EXAMINE': {
          const mb = mailbox(cmd.mailbox);
          if (cmd.condstore) enabled.add('CONDSTORE');
          selected = mb;
          write(flagsResponse(['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft']));
          write(existsResponse(mb.messages.length));
          write(
            untaggedStatus('OK', 'Flags permitted', { code: 'PERMANENTFLAGS', flags: ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '\\*'] }),
          );
          write(untaggedStatus('OK', 'UIDs valid', { code: 'UIDVALIDITY', value: mb.uidValidity }));
          write(untaggedStatus('OK', 'Predicted next UID', { code: 'UIDNEXT', value: mb.uidNext }));
          if (enabled.has('CONDSTORE')) write(untaggedStatus('OK', 'Highest', { code: 'HIGHESTMODSEQ', value: 1 }));
          ok(`${cmd.name} completed`, { code: cmd.name === 'SELECT' ? 'READ-WRITE' : 'READ-ONLY' });
          return;
        }
        case 'CREATE':
          if (this.mailboxes.has(cmd.mailbox)) throw new Reply('NO', 'Mailbox exists', { code: 'ALREADYEXISTS' });
          this.mailboxes.set(cmd.mailbox, { name: cmd.mailbox, specialUse: [...cmd.specialUse], subscribed: false, uidValidity: 1, uidNext: 1, messages: [] });
          ok('CREATE completed');
          return;
        case 'APPEND': {
          const mb = this.mailboxes.get(cmd.mailbox);
          if (!mb) throw new Reply('NO', 'No such mailbox', { code: 'TRYCREATE' });
          const uids: number[] = [];
          for (const m of cmd.messages) {
            const uid = mb.uidNext++;
            uids.push(uid);
            mb.messages.push({ ...makeMessage(uid, 'appended', ''), raw: m.data, flags: new Set(m.flags), internalDate: m.internalDate?.date ?? new Date() });
          }
          ok('APPEND completed', { code: 'APPENDUID', uidValidity: mb.uidValidity, uids });
          return;
        }
        case 'IDLE':
          idleTag = cmd.tag;
          framer.readRawLine();
          write(continuation('idling'));
          return;
        case 'CLOSE':
        case 'UNSELECT':
          selected = null;
          ok(`${cmd.name} completed`);
          return;
        case 'FETCH':
          fetch(cmd, ok);
          return;
        case 'STORE': {
          const mb = requireSelected();
          forEachMessage(mb, cmd.uid, cmd.set, (m, seq) => {
            if (cmd.action === 'set') m.flags = new Set(cmd.flags);
            else for (const f of cmd.flags) cmd.action === 'add' ? m.flags.add(f) : m.flags.delete(f);
            if (!cmd.silent) write(fetchResponse(seq, [...(cmd.uid ? [{ kind: 'UID' as const, value: m.uid }] : []), { kind: 'FLAGS', flags: [...m.flags] }]));
          });
          ok('STORE completed');
          return;
        }
        case 'SEARCH': {
          const mb = requireSelected();
          const hits: number[] = [];
          mb.messages.forEach((m, i) => {
            if (matches(cmd.criteria, m, i + 1, mb)) hits.push(cmd.uid ? m.uid : i + 1);
          });
          if (cmd.returnOptions) {
            const ro = cmd.returnOptions;
            write(
              esearchResponse({
                tag: cmd.tag,
                uid: cmd.uid,
                count: ro.includes('COUNT') ? hits.length : null,
                all: ro.includes('ALL') ? hits : null,
                min: ro.includes('MIN') ? (hits[0] ?? null) : null,
                max: ro.includes('MAX') ? (hits.at(-1) ?? null) : null,
              }),
            );
          } else {
            write(searchResponse(hits));
          }
          ok('SEARCH completed');
          return;
        }
        case 'COPY':
        case 'MOVE': {
          const mb = requireSelected();
          const dest = this.mailboxes.get(cmd.mailbox);
          if (!dest) throw new Reply('NO', 'No such mailbox', { code: 'TRYCREATE' });
          const src: number[] = [];
          const dst: number[] = [];
          const moved: StoredMessage[] = [];
          forEachMessage(mb, cmd.uid, cmd.set, (m) => {
            const uid = dest.uidNext++;
            src.push(m.uid);
            dst.push(uid);
            dest.messages.push({ ...m, uid, flags: new Set(m.flags) });
            moved.push(m);
          });
          const code: ResponseCode = { code: 'COPYUID', uidValidity: dest.uidValidity, sourceUids: src, destinationUids: dst };
          if (cmd.name === 'MOVE') {
            write(untaggedStatus('OK', 'Moved', code));
            for (const m of moved) {
              write(expungeResponse(mb.messages.indexOf(m) + 1));
              mb.messages.splice(mb.messages.indexOf(m), 1);
            }
            ok('MOVE completed');
            return;
          }
          ok('COPY completed', code);
          return;
        }
        case 'EXPUNGE': {
          const mb = requireSelected();
          for (let i = mb.messages.length - 1; i >= 0; i--) {
            const m = mb.messages[i] as StoredMessage;
            if (m.flags.has('\\Deleted') && (!cmd.uid || sequenceSetContains(cmd.set, m.uid, mb.uidNext - 1))) {
              mb.messages.splice(i, 1);
              write(expungeResponse(i + 1));
            }
          }
          ok('EXPUNGE completed');
          return;
        }
        default:
          throw new Reply('BAD', `${cmd.name} not supported here`);
      }
    };

    const finishPlain = (tag: string, b64: string): void => {
      const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
      if (parts[1] !== this.options.user || parts[2] !== this.options.pass) {
        write(taggedResponse(tag, 'NO', 'Invalid credentials', { code: 'AUTHENTICATIONFAILED' }));
        return;
      }
      authenticated = true;
      write(taggedResponse(tag, 'OK', 'Authenticated', { code: 'CAPABILITY', capabilities: this.options.capabilities }));
    };

    const mailbox = (name: string): Mailbox => {
      const mb = this.mailboxes.get(name);
      if (!mb) throw new Reply('NO', 'No such mailbox', { code: 'NONEXISTENT' });
      return mb;
    };
    const requireSelected = (): Mailbox => {
      if (!selected) throw new Reply('BAD', 'No mailbox selected');
      return selected;
    };
    const forEachMessage = (mb: Mailbox, uid: boolean, set: Parameters<typeof iterateSequenceSet>[0], fn: (m: StoredMessage, seq: number) => void): void => {
      if (uid) {
        const max = mb.messages.at(-1)?.uid ?? 0;
        for (const [i, m] of mb.messages.entries()) if (sequenceSetContains(set, m.uid, max)) fn(m, i + 1);
      } else {
        for (const seq of iterateSequenceSet(set, mb.messages.length)) fn(mb.messages[seq - 1] as StoredMessage, seq);
      }
    };
    const fetch = (cmd: CommandOf<'FETCH'>, ok: (t: string) => void): void => {
      const mb = requireSelected();
      forEachMessage(mb, cmd.uid, cmd.set, (m, seq) => {
        const items: FetchResponseItem[] = [];
        if (cmd.uid && !cmd.attributes.some((a) => a.kind === 'UID')) items.push({ kind: 'UID', value: m.uid });
        for (const a of cmd.attributes) {
          switch (a.kind) {
            case 'UID':
              items.push({ kind: 'UID', value: m.uid });
              break;
            case 'FLAGS':
              items.push({ kind: 'FLAGS', flags: [...m.flags] });
              break;
            case 'INTERNALDATE':
              items.push({ kind: 'INTERNALDATE', date: m.internalDate });
              break;
            case 'RFC822.SIZE':
              items.push({ kind: 'RFC822.SIZE', value: m.raw.length });
              break;
            case 'MODSEQ':
              items.push({ kind: 'MODSEQ', value: 1 });
              break;
            case 'ENVELOPE':
              items.push({ kind: 'ENVELOPE', value: m.envelope });
              break;
            case 'BODYSTRUCTURE':
            case 'BODY':
              items.push({ kind: a.kind, value: m.bodyStructure });
              break;
            case 'RFC822':
              items.push({ kind: 'RFC822', data: m.raw });
              break;
            case 'BODY[]': {
              const headerEnd = m.raw.indexOf('\r\n\r\n') + 4;
              let data =
                a.section.text === 'HEADER' || a.section.text === 'HEADER.FIELDS'
                  ? m.raw.subarray(0, headerEnd)
                  : a.section.text === 'TEXT'
                    ? m.raw.subarray(headerEnd)
                    : m.raw;
              if (a.section.text === 'HEADER.FIELDS') {
                const wanted = new Set((a.section.fields ?? []).map((f) => f.toLowerCase()));
                data = Buffer.from(
                  data
                    .toString()
                    .split('\r\n')
                    .filter((l) => wanted.has(l.split(':')[0]?.toLowerCase() ?? ''))
                    .map((l) => `${l}\r\n`)
                    .join('') + '\r\n',
                );
              }
              if (a.partial) data = data.subarray(a.partial.offset, a.partial.offset + a.partial.length);
              items.push({ kind: 'BODY[]', section: a.section, origin: a.partial?.offset ?? null, data });
              break;
            }
            default:
              throw new Reply('BAD', `${a.kind} not supported here`);
          }
        }
        write(fetchResponse(seq, items));
      });
      ok('FETCH completed');
    };

    const pump = (): void => {
      if (busy) return;
      busy = true;
      try {
        for (let ev = framer.next(); ev; ev = framer.next()) {
          switch (ev.kind) {
            case 'literal':
              this.literalsAccepted++;
              framer.acceptLiteral();
              write(continuation('Ready'));
              break;
            case 'line': {
              const text = ev.line.toString('latin1');
              this.rawLines.push(text);
              if (pendingAuth !== null) {
                const tag = pendingAuth;
                pendingAuth = null;
                if (text === '*') write(taggedResponse(tag, 'BAD', 'Authentication cancelled'));
                else finishPlain(tag, text);
              } else if (idleTag !== null) {
                const tag = idleTag;
                idleTag = null;
                write(text.toUpperCase() === 'DONE' ? taggedResponse(tag, 'OK', 'IDLE terminated') : taggedResponse(tag, 'BAD', 'Expected DONE'));
              }
              break;
            }
            case 'error':
              this.errors.push(ev.error);
              write(framingErrorResponse(ev.error));
              if (ev.error.fatal) socket.destroy();
              break;
            case 'command': {
              let cmd: Command;
              try {
                cmd = parseCommand(ev.unit, { utf8Accept: enabled.has('UTF8=ACCEPT') });
              } catch (err) {
                if (!(err instanceof ImapParseError)) throw err;
                this.errors.push(err);
                write(parseErrorResponse(err));
                break;
              }
              try {
                handle(cmd);
              } catch (err) {
                if (!(err instanceof Reply)) throw err;
                write(taggedResponse(cmd.tag, err.status, err.message, err.code));
              }
              break;
            }
          }
        }
      } finally {
        busy = false;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        framer.push(chunk);
      } catch (err) {
        if (err instanceof FramingError) return void socket.destroy();
        throw err;
      }
      pump();
    });
    socket.on('error', () => socket.destroy());
  }
}

function status(mb: Mailbox, items: readonly string[]): StatusValues {
  const all: StatusValues = {
    MESSAGES: mb.messages.length,
    UIDNEXT: mb.uidNext,
    UIDVALIDITY: mb.uidValidity,
    UNSEEN: mb.messages.filter((m) => !m.flags.has('\\Seen')).length,
    DELETED: mb.messages.filter((m) => m.flags.has('\\Deleted')).length,
    SIZE: mb.messages.reduce((n, m) => n + m.raw.length, 0),
    RECENT: 0,
    HIGHESTMODSEQ: 1,
  };
  const out: StatusValues = {};
  for (const i of items) if (i in all) (out as Record<string, number | string | undefined>)[i] = all[i as keyof StatusValues];
  return out;
}

function matchPattern(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/%/g, '[^/]*')}$`,
    'i',
  );
  return re.test(name);
}

function matches(key: SearchKey, m: StoredMessage, seq: number, mb: Mailbox): boolean {
  switch (key.type) {
    case 'and':
      return key.keys.every((k) => matches(k, m, seq, mb));
    case 'or':
      return matches(key.left, m, seq, mb) || matches(key.right, m, seq, mb);
    case 'not':
      return !matches(key.key, m, seq, mb);
    case 'all':
      return true;
    case 'seen':
      return m.flags.has('\\Seen');
    case 'unseen':
      return !m.flags.has('\\Seen');
    case 'deleted':
      return m.flags.has('\\Deleted');
    case 'undeleted':
      return !m.flags.has('\\Deleted');
    case 'flagged':
      return m.flags.has('\\Flagged');
    case 'uid':
      return sequenceSetContains(key.set, m.uid, mb.messages.at(-1)?.uid ?? 0);
    case 'seq':
      return sequenceSetContains(key.set, seq, mb.messages.length);
    case 'subject':
      return m.raw.toString().toLowerCase().includes(`subject: ${key.value.toLowerCase()}`);
    default:
      throw new Reply('NO', `search key ${key.type} not supported here`, { code: 'CANNOT' });
  }
}
