/**
 * An IMAP server as an import source (imapflow): every selectable folder with its hierarchy,
 * special-use role, flags, keywords and INTERNALDATE, in UID order, read-only (EXAMINE), so the
 * source is never changed.
 *
 * Gmail (X-GM-EXT-1): labels are folders, "[Gmail]/All Mail" holds every message once more and
 * goes last into Archive with only the messages no label had (by X-GM-MSGID); Starred and
 * Important are views of flags, not folders, and are left out.
 */
import { ImapFlow, type ListResponse } from 'imapflow';
import { BATCH_BYTES, BATCH_MESSAGES, type FolderPlan, type ImportSource, type SourceFolder, type SourceMessage } from './engine.js';

export interface ImapSourceOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** implicit: TLS from the first byte (993); starttls: required; none: plaintext (loopback tests). */
  tls: 'implicit' | 'starttls' | 'none';
  /** Accept any certificate (a self-signed source). */
  insecure: boolean;
}

/** Flags to keep: system flags but \Recent (a session's, not the message's), and keywords. */
function keptFlags(flags: Set<string> | undefined): string[] {
  return [...(flags ?? [])].filter((f) => f.toLowerCase() !== '\\recent');
}

function dateOf(d: Date | string | undefined): number {
  const t = d === undefined ? Number.NaN : new Date(d).getTime();
  return Number.isFinite(t) ? t : Date.now();
}

export async function openImapSource(o: ImapSourceOptions): Promise<ImportSource> {
  const client = new ImapFlow({
    host: o.host,
    port: o.port,
    secure: o.tls === 'implicit',
    doSTARTTLS: o.tls === 'starttls' ? true : o.tls === 'none' ? false : undefined,
    auth: { user: o.user, pass: o.password },
    logger: false,
    disableAutoIdle: true,
    tls: { rejectUnauthorized: !o.insecure },
  });
  // a dropped connection surfaces as the pending command's rejection; without a listener an
  // 'error' event would end the process before the marker of the last batch is kept
  client.on('error', () => {});
  await client.connect();
  const gmail = client.capabilities.has('X-GM-EXT-1');
  const id = `imap://${o.user}@${o.host}:${o.port}`;

  const folderOf = (l: ListResponse): SourceFolder | null => {
    const flags = l.flags ?? new Set<string>();
    if (flags.has('\\Noselect') || flags.has('\\NonExistent')) return null;
    let specialUse = l.specialUse ?? null;
    if (gmail && (specialUse === '\\Flagged' || specialUse === '\\Important' || flags.has('\\Important') || flags.has('\\Flagged'))) return null;
    const all = specialUse === '\\All';
    // we keep no \All mailbox: All Mail is what the labels do not hold, i.e. the archive
    if (all) specialUse = '\\Archive';
    const name = l.path.toUpperCase() === 'INBOX' ? 'INBOX' : l.delimiter && l.delimiter !== '/' ? l.path.split(l.delimiter).join('/') : l.path;
    return {
      sourceName: l.path,
      name: all && gmail ? 'Archive' : name,
      specialUse: name === 'INBOX' ? null : specialUse,
      validity: 0,
      onlyUnseenIds: all && gmail,
      plan: (after) => planFolder(l.path, after, all && gmail),
    };
  };

  const planFolder = async (path: string, after: string | null, wantIds: boolean): Promise<FolderPlan> => {
    const from = after === null ? 1 : Number(after) + 1;
    // UIDs and sizes first: the count and bytes for the progress bar, and the batches' bounds
    const list: Array<{ uid: number; size: number }> = [];
    await client.mailboxOpen(path, { readOnly: true });
    if ((client.mailbox && client.mailbox.exists) || 0) {
      for await (const msg of client.fetch(`${from}:*`, { uid: true, size: true }, { uid: true })) {
        // "n:*" names the last message even when its UID is below n (RFC 9051 §6.4.8)
        if (msg.uid >= from) list.push({ uid: msg.uid, size: msg.size ?? 0 });
      }
    }
    list.sort((a, b) => a.uid - b.uid);
    return {
      count: list.length,
      bytes: list.reduce((n, x) => n + x.size, 0),
      async *batches() {
        let i = 0;
        while (i < list.length) {
          let bytes = 0;
          const start = i;
          while (i < list.length && i - start < BATCH_MESSAGES && (i === start || bytes + list[i]!.size <= BATCH_BYTES)) bytes += list[i++]!.size;
          const uids = list.slice(start, i).map((x) => x.uid);
          const got: SourceMessage[] = [];
          for await (const msg of client.fetch(
            uids.join(','),
            { uid: true, flags: true, internalDate: true, source: true, emailId: wantIds || gmail },
            { uid: true },
          )) {
            if (!msg.source) continue;
            got.push({
              raw: msg.source,
              flags: keptFlags(msg.flags),
              internalDate: dateOf(msg.internalDate),
              position: String(msg.uid),
              ...(msg.emailId ? { emailId: msg.emailId } : {}),
            });
          }
          // the server's FETCH order is its own; ours is the UID order the marker assumes
          got.sort((a, b) => Number(a.position) - Number(b.position));
          yield got;
        }
      },
    };
  };

  return {
    id,
    async folders() {
      const out: SourceFolder[] = [];
      for (const l of await client.list()) {
        const f = folderOf(l);
        if (!f) continue;
        const status = await client.status(l.path, { uidValidity: true });
        f.validity = Number((status && status.uidValidity) ?? 0n);
        out.push(f);
      }
      return out;
    },
    async close() {
      await client.logout().catch(() => client.close());
    },
  };
}
