/**
 * The maildrop pickup (Postfix's pickup(8)): files that ordinary local users' `postern sendmail`
 * left in `sendmail.maildrop` become queue entries. The directory is ours, mode 1733 (anyone
 * may create a file, nobody but us may list it or remove what is not theirs).
 *
 * The sender is the uid that owns the file, as the kernel recorded it when it was created: a
 * requested -f naming anyone else is rewritten to the owner's own address. Only plain files
 * with one link are taken (a hard link to another user's file would carry that user's uid).
 * A file is removed only after its queue entry is committed; one that cannot be read as a
 * maildrop file is renamed `.bad-NAME` and logged, never silently dropped.
 */
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
  chmodSync,
  unlinkSync,
  watch,
  type FSWatcher,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import {
  countMailEvent,
  metrics,
  completeAddress,
  decodeDrop,
  DROP_ENVELOPE_MAX,
  has8bit,
  localMessage,
  localSender,
  needsSmtpUtf8,
  newId,
  parseAddress,
  unixUserName,
  type Config,
  type Logger,
  type NewMessage,
  type QueueStore,
} from '@postern/core';
import { signLocalMessage } from '@postern/trust';

/** A `.tmp-` file older than this was left by a sendmail that died while writing. */
const STALE_TEMP_MS = 86_400_000;
/** Files taken per scan; the next scan follows at once when there were more. */
const PER_SCAN = 100;

export class Pickup {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private scanning = false;
  private again = false;

  constructor(private readonly deps: { config: Config; queue: QueueStore; log: Logger; onQueued: () => void }) {}

  start(): void {
    const dir = this.deps.config.maildropDir;
    mkdirSync(dir, { recursive: true });
    // the umask must not take the write bit from others: sticky, writable and searchable by all
    chmodSync(dir, 0o1733);
    try {
      this.watcher = watch(dir, () => this.scan());
      this.watcher.on('error', (err) => this.deps.log.warn({ err }, 'maildrop watch failed; polling only'));
    } catch (err) {
      this.deps.log.warn({ err }, 'maildrop watch failed; polling only');
    }
    this.timer = setInterval(() => this.scan(), Math.max(this.deps.config.transfer.queue_poll, 200));
    this.timer.unref();
    this.scan();
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
  }

  /** Takes what is in the maildrop now. */
  scan(): void {
    if (this.scanning) {
      this.again = true;
      return;
    }
    this.scanning = true;
    try {
      let names: string[];
      try {
        names = readdirSync(this.deps.config.maildropDir);
      } catch (err) {
        this.deps.log.error({ err }, 'cannot read the maildrop directory');
        return;
      }
      let taken = 0;
      for (const name of names) {
        if (name.startsWith('.tmp-')) this.removeIfStale(name);
        if (name.startsWith('.')) continue;
        if (taken++ >= PER_SCAN) {
          this.again = true;
          break;
        }
        this.take(name);
      }
    } finally {
      this.scanning = false;
    }
    if (this.again) {
      this.again = false;
      setImmediate(() => this.scan());
    }
  }

  private removeIfStale(name: string): void {
    const path = join(this.deps.config.maildropDir, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_TEMP_MS) unlinkSync(path);
    } catch {
      // gone meanwhile
    }
  }

  private take(name: string): void {
    const { config, queue, log } = this.deps;
    const path = join(config.maildropDir, name);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return; // taken by an earlier scan
      log.error({ err, file: name }, 'maildrop file cannot be opened');
      this.setAside(name, `cannot open (${code ?? 'error'})`);
      return;
    }
    let st: Stats;
    let file: Buffer;
    try {
      st = fstatSync(fd);
      if (!st.isFile() || st.nlink !== 1) {
        this.setAside(name, 'not a plain file with one link');
        return;
      }
      if (st.size > config.limits.message_size + DROP_ENVELOPE_MAX) {
        this.setAside(name, `larger than ${config.limits.message_size} bytes`);
        return;
      }
      file = Buffer.alloc(st.size);
      let off = 0;
      while (off < st.size) {
        const n = readSync(fd, file, off, st.size - off, off);
        if (n === 0) break;
        off += n;
      }
      file = file.subarray(0, off);
    } finally {
      closeSync(fd);
    }
    const ownUid = process.getuid?.() ?? 0;
    const trusted = st.uid === 0 || st.uid === ownUid;
    const username = unixUserName(st.uid) ?? `uid-${st.uid}`;
    let entry: NewMessage;
    try {
      const { envelope, message } = decodeDrop(file);
      if (envelope.recipients.length === 0 || envelope.recipients.length > config.limits.recipients)
        throw new Error(`${envelope.recipients.length} recipients`);
      const recipients = [...new Set(envelope.recipients.map((r) => completeAddress(r, config.origin)))];
      let decision = localSender(envelope.sender, { username, uid: st.uid, trusted }, config);
      if (!decision.ok) {
        log.warn({ file: name, uid: st.uid, requested: envelope.sender }, `${decision.reason}: sender rewritten`);
        decision = { ok: true, sender: decision.own };
      }
      const sender = decision.sender;
      const id = newId();
      const unsigned = localMessage({ data: message, id, sender, recipients, hostname: config.hostname, origin: config.origin, fullName: envelope.fullName });
      const data = signLocalMessage(unsigned, { config, sender, trusted });
      entry = {
        id,
        sender,
        recipients: recipients.map((address) => ({ address, notify: envelope.notify })),
        data,
        origin: 'sendmail' as const,
        client: `uid ${st.uid} (${username})`,
        envid: envelope.envid,
        ret: envelope.ret,
        body8bit: has8bit(data),
        smtputf8: recipients.some((r) => needsSmtpUtf8(parseAddress(r))) || needsSmtpUtf8(parseAddress(sender)),
      };
    } catch (err) {
      log.error({ err, file: name, uid: st.uid }, 'maildrop file refused');
      this.setAside(name, (err as Error).message);
      return;
    }
    try {
      queue.enqueueNow(entry);
    } catch (err) {
      log.error({ err, file: name }, 'queueing a maildrop file failed; it stays for the next scan');
      return;
    }
    unlinkSync(path);
    metrics.received.inc({ via: 'sendmail' });
    countMailEvent('queued', entry.recipients.length);
    log.info(
      { mail: 'queued', id: entry.id, from: entry.sender, to: entry.recipients.map((r) => r.address), uid: st.uid, origin: 'maildrop' },
      'queued from the maildrop',
    );
    this.deps.onQueued();
  }

  private setAside(name: string, reason: string): void {
    this.deps.log.error({ file: name, reason }, `maildrop file set aside as .bad-${name}`);
    try {
      renameSync(join(this.deps.config.maildropDir, name), join(this.deps.config.maildropDir, `.bad-${name}`));
    } catch {
      // gone meanwhile
    }
  }
}
