/**
 * The command writer: the inverse of the parser, as a client would send a Command. Tests use it
 * to generate traffic (round trips, fuzzing seeds); a client or proxy could use it as is.
 *
 * Strings go out as atoms, quoted strings or literals, whichever fits. Literals are
 * non-synchronizing (`{n+}`, RFC 7888) unless `literalPlus` is false, in which case a real
 * client would have to wait for `+` after each line ending in `{n}`.
 */
import type { Command, SearchKey } from './command.js';
import { formatImapDate, formatImapDateTime } from './datetime.js';
import { encodeMailboxName } from './mailbox.js';
import { formatFetchAttribute } from './section.js';
import { formatSequenceSet } from './sequence.js';

export interface WriteOptions {
  /** Use `{n+}` literals (default true). */
  readonly literalPlus?: boolean;
  /** Write mailbox names as UTF-8 (UTF8=ACCEPT) instead of modified UTF-7. */
  readonly utf8Accept?: boolean;
}

const ATOM_SPECIALS = /[(){ %*"\\\]\x00-\x1f\x7f-\uffff]/;
const LIST_SPECIALS = /[(){ "\\\x00-\x1f\x7f-\uffff]/;

class CommandBuilder {
  private readonly chunks: Buffer[] = [];
  private text = '';

  constructor(private readonly options: WriteOptions) {}

  write(s: string): this {
    this.text += s;
    return this;
  }

  literal(data: Buffer, binary = false): this {
    const plus = this.options.literalPlus === false ? '' : '+';
    this.text += `${binary ? '~' : ''}{${data.length}${plus}}\r\n`;
    this.chunks.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
    this.chunks.push(data);
    return this;
  }

  /** `string`: quoted when it is short 7-bit text (or UTF-8 when allowed), else a literal. */
  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    const utf8 = this.options.utf8Accept === true;
    let quotable = bytes.length <= 1000;
    for (let i = 0; quotable && i < bytes.length; i++) {
      const c = bytes[i] as number;
      if (c === 0 || c === 0x0d || c === 0x0a || (c >= 0x80 && !utf8)) quotable = false;
    }
    if (quotable) return this.write(`"${value.replace(/[\\"]/g, (m) => `\\${m}`)}"`);
    return this.literal(bytes);
  }

  /** `astring`: an atom when possible. */
  astring(value: string): this {
    if (value.length > 0 && !ATOM_SPECIALS.test(value)) return this.write(value);
    return this.string(value);
  }

  /** `list-mailbox`: wildcards may stay bare. */
  listMailbox(value: string): this {
    if (value.length > 0 && !LIST_SPECIALS.test(value)) return this.write(value);
    return this.string(value);
  }

  mailbox(name: string): this {
    return this.astring(encodeMailboxName(name, this.options.utf8Accept === true));
  }

  finish(): Buffer {
    this.text += '\r\n';
    this.chunks.push(Buffer.from(this.text, 'utf8'));
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
  }
}

function flagList(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}

function writeSearchKey(b: CommandBuilder, key: SearchKey, top: boolean): void {
  switch (key.type) {
    case 'and':
      if (!top) b.write('(');
      key.keys.forEach((k, i) => {
        if (i > 0) b.write(' ');
        writeSearchKey(b, k, false);
      });
      if (!top) b.write(')');
      return;
    case 'not':
      b.write('NOT ');
      writeSearchKey(b, key.key, false);
      return;
    case 'or':
      b.write('OR ');
      writeSearchKey(b, key.left, false);
      b.write(' ');
      writeSearchKey(b, key.right, false);
      return;
    case 'seq':
      b.write(formatSequenceSet(key.set));
      return;
    case 'uid':
      b.write(`UID ${formatSequenceSet(key.set)}`);
      return;
    case 'keyword':
    case 'unkeyword':
      b.write(`${key.type.toUpperCase()} ${key.flag}`);
      return;
    case 'bcc':
    case 'body':
    case 'cc':
    case 'from':
    case 'subject':
    case 'text':
    case 'to':
      b.write(`${key.type.toUpperCase()} `).astring(key.value);
      return;
    case 'header':
      b.write('HEADER ').astring(key.field).write(' ').astring(key.value);
      return;
    case 'before':
    case 'on':
    case 'since':
    case 'sentbefore':
    case 'senton':
    case 'sentsince':
      b.write(`${key.type.toUpperCase()} ${formatImapDate(key.date)}`);
      return;
    case 'larger':
    case 'smaller':
      b.write(`${key.type.toUpperCase()} ${key.size}`);
      return;
    case 'older':
    case 'younger':
      b.write(`${key.type.toUpperCase()} ${key.seconds}`);
      return;
    case 'modseq':
      b.write('MODSEQ ');
      if (key.entry) b.write(`"${key.entry.name.replace(/[\\"]/g, (m) => `\\${m}`)}" ${key.entry.type} `);
      b.write(String(key.modseq));
      return;
    default:
      b.write(key.type.toUpperCase());
  }
}

/** Serializes a command as a client sends it, CRLF included. */
export function formatCommand(cmd: Command, options: WriteOptions = {}): Buffer {
  const b = new CommandBuilder(options);
  const uid = 'uid' in cmd && cmd.uid ? 'UID ' : '';
  b.write(`${cmd.tag} ${uid}${cmd.name}`);
  switch (cmd.name) {
    case 'CAPABILITY':
    case 'NOOP':
    case 'LOGOUT':
    case 'STARTTLS':
    case 'NAMESPACE':
    case 'IDLE':
    case 'CHECK':
    case 'CLOSE':
    case 'UNSELECT':
      break;
    case 'AUTHENTICATE':
      b.write(` ${cmd.mechanism}`);
      if (cmd.initialResponse !== null) b.write(` ${cmd.initialResponse}`);
      break;
    case 'LOGIN':
      b.write(' ').astring(cmd.username).write(' ').astring(cmd.password);
      break;
    case 'ENABLE':
      b.write(` ${cmd.capabilities.join(' ')}`);
      break;
    case 'ID':
      if (cmd.params === null) {
        b.write(' NIL');
      } else {
        b.write(' (');
        cmd.params.forEach(([k, v], i) => {
          if (i > 0) b.write(' ');
          b.string(k).write(' ');
          if (v === null) b.write('NIL');
          else b.string(v);
        });
        b.write(')');
      }
      break;
    case 'SELECT':
    case 'EXAMINE': {
      b.write(' ').mailbox(cmd.mailbox);
      const params: string[] = [];
      if (cmd.condstore) params.push('CONDSTORE');
      if (cmd.qresync) {
        const q = cmd.qresync;
        let s = `QRESYNC (${q.uidValidity} ${q.modSeq}`;
        if (q.knownUids) s += ` ${formatSequenceSet(q.knownUids)}`;
        if (q.seqMatch) s += ` (${formatSequenceSet(q.seqMatch.seqs)} ${formatSequenceSet(q.seqMatch.uids)})`;
        params.push(`${s})`);
      }
      if (params.length > 0) b.write(` (${params.join(' ')})`);
      break;
    }
    case 'CREATE':
      b.write(' ').mailbox(cmd.mailbox);
      if (cmd.specialUse.length > 0) b.write(` (USE ${flagList(cmd.specialUse)})`);
      break;
    case 'DELETE':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
      b.write(' ').mailbox(cmd.mailbox);
      break;
    case 'RENAME':
      b.write(' ').mailbox(cmd.mailbox).write(' ').mailbox(cmd.newName);
      break;
    case 'LIST': {
      const utf8 = options.utf8Accept === true;
      b.write(' ');
      if (cmd.selectOptions.length > 0) b.write(`(${cmd.selectOptions.join(' ')}) `);
      b.astring(encodeMailboxName(cmd.reference, utf8)).write(' ');
      const pats = cmd.patterns.map((p) => encodeMailboxName(p, utf8));
      if (pats.length === 1 && !(cmd.extended && cmd.selectOptions.length === 0 && !hasReturn(cmd.returnOptions))) {
        b.listMailbox(pats[0] as string);
      } else {
        b.write('(');
        pats.forEach((p, i) => {
          if (i > 0) b.write(' ');
          b.listMailbox(p);
        });
        b.write(')');
      }
      const ro = cmd.returnOptions;
      if (hasReturn(ro)) {
        const opts: string[] = [];
        if (ro.subscribed) opts.push('SUBSCRIBED');
        if (ro.children) opts.push('CHILDREN');
        if (ro.specialUse) opts.push('SPECIAL-USE');
        if (ro.status) opts.push(`STATUS (${ro.status.join(' ')})`);
        b.write(` RETURN (${opts.join(' ')})`);
      }
      break;
    }
    case 'LSUB': {
      const utf8 = options.utf8Accept === true;
      b.write(' ').astring(encodeMailboxName(cmd.reference, utf8)).write(' ').listMailbox(encodeMailboxName(cmd.pattern, utf8));
      break;
    }
    case 'STATUS':
      b.write(' ')
        .mailbox(cmd.mailbox)
        .write(` (${cmd.items.join(' ')})`);
      break;
    case 'APPEND':
      b.write(' ').mailbox(cmd.mailbox);
      for (const m of cmd.messages) {
        if (m.flags.length > 0) b.write(` ${flagList(m.flags)}`);
        if (m.internalDate) b.write(` "${formatImapDateTime(m.internalDate.date, m.internalDate.offsetMinutes)}"`);
        b.write(' ');
        if (m.utf8) b.write('UTF8 (').literal(m.data, true).write(')');
        else b.literal(m.data, m.binary);
      }
      break;
    case 'EXPUNGE':
      if (cmd.uid) b.write(` ${formatSequenceSet(cmd.set)}`);
      break;
    case 'SEARCH':
      b.write(' ');
      if (cmd.returnOptions) b.write(`RETURN (${cmd.returnOptions.join(' ')}) `);
      if (cmd.charset) b.write(`CHARSET ${cmd.charset} `);
      writeSearchKey(b, cmd.criteria, true);
      break;
    case 'FETCH': {
      b.write(` ${formatSequenceSet(cmd.set)} `);
      if (cmd.macro) b.write(cmd.macro);
      else b.write(`(${cmd.attributes.map(formatFetchAttribute).join(' ')})`);
      const mods: string[] = [];
      if (cmd.changedSince !== null) mods.push(`CHANGEDSINCE ${cmd.changedSince}`);
      if (cmd.vanished) mods.push('VANISHED');
      if (mods.length > 0) b.write(` (${mods.join(' ')})`);
      break;
    }
    case 'STORE': {
      b.write(` ${formatSequenceSet(cmd.set)}`);
      if (cmd.unchangedSince !== null) b.write(` (UNCHANGEDSINCE ${cmd.unchangedSince})`);
      const sign = cmd.action === 'add' ? '+' : cmd.action === 'remove' ? '-' : '';
      b.write(` ${sign}FLAGS${cmd.silent ? '.SILENT' : ''} ${flagList(cmd.flags)}`);
      break;
    }
    case 'COPY':
    case 'MOVE':
      b.write(` ${formatSequenceSet(cmd.set)} `).mailbox(cmd.mailbox);
      break;
  }
  return b.finish();
}

function hasReturn(ro: { subscribed: boolean; children: boolean; specialUse: boolean; status: readonly unknown[] | null }): boolean {
  return ro.subscribed || ro.children || ro.specialUse || ro.status !== null;
}
