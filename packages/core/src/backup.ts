/**
 * One-file backups of a Postern installation, taken while it runs: mail.db and queue.db, the
 * DKIM keys, the TLS certificate and key, and the config, in a tar (tar-stream), gzip'd, and
 * optionally encrypted with a passphrase.
 *
 * Invariants:
 * - Each database is copied by SQLite's online backup API (better-sqlite3 `db.backup()`) in ONE
 *   step: one read transaction sees one committed state, so the copy is consistent and holds
 *   every message acknowledged before it began, while the other processes go on writing (WAL:
 *   readers never block writers). Small steps would restart at each write of another process,
 *   and under mail load might never end.
 * - A restore never uses a file it has not verified: every entry is extracted to a staging
 *   directory, its SHA-256 checked against the manifest (written last), the GCM tag checked at
 *   the stream's end, and `PRAGMA integrity_check` run on both databases; only then is anything
 *   moved into place.
 * - Encryption: AES-256-GCM from node:crypto (OpenSSL), the key from the passphrase by scrypt
 *   (N=2^17, r=8, p=1: 128 MiB and about half a second per try, which is what slows a guesser)
 *   with a random salt and IV per file; the header is authenticated as additional data. Chosen
 *   over a further library because Node ships both, both are standard (NIST SP 800-38D,
 *   RFC 7914), and the file stays a stream: nothing is held in memory whatever its size. A key
 *   check value in the header says "wrong passphrase" before any byte is decrypted.
 */
import {
  type CipherGCM,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  scrypt as scryptCb,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { PassThrough, Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import Database from 'better-sqlite3';
import * as tar from 'tar-stream';
import type { Config } from './config.js';
import { mailDbPath } from './maildb.js';
import { queueDbPath } from './queue/store.js';
import { MAIL_MIGRATIONS } from './store/schema.js';
import { QUEUE_MIGRATIONS } from './queue/schema.js';

export const BACKUP_FORMAT = 1;
const MAGIC = Buffer.from('PSTNBAK1');
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 };
const KEY_CHECK = 'postern backup key check';

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

export interface BackupEntry {
  /** Name in the archive: mail.db, queue.db, config/postern.toml, dkim/..., tls/cert.pem. */
  name: string;
  size: number;
  sha256: string;
  /** Where it came from: relative to the config file's directory when inside it, else absolute. */
  origin: string;
}

export interface BackupManifest {
  format: number;
  created: string;
  host: string;
  schema: { mail: number; queue: number };
  encrypted: boolean;
  entries: BackupEntry[];
}

export type BackupProgress = (done: number, total: number) => void;

function scrypt(pass: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolveKey, reject) => scryptCb(pass, salt, 32, o, (err, key) => (err ? reject(err) : resolveKey(key))));
}

function keyCheck(key: Buffer): Buffer {
  return createHmac('sha256', key).update(KEY_CHECK).digest().subarray(0, 16);
}

/** Header of an encrypted file: magic, salt, log2 N, r, p, IV, key check (all authenticated as AAD). */
function encodeHeader(salt: Buffer, iv: Buffer, check: Buffer): Buffer {
  return Buffer.concat([MAGIC, salt, Buffer.from([Math.log2(SCRYPT.N), SCRYPT.r, SCRYPT.p]), iv, check]);
}
const HEADER_SIZE = MAGIC.length + 16 + 3 + 12 + 16;
const TAG_SIZE = 16;

/** Whether `file` is an encrypted backup (else a plain .tar.gz). */
export async function backupIsEncrypted(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(MAGIC.length);
    await fh.read(head, 0, head.length, 0);
    return head.equals(MAGIC);
  } finally {
    await fh.close();
  }
}

/** Counts the bytes that pass and hashes them. */
class Meter extends Transform {
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    this.push(chunk);
    cb();
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, d.name);
    if (d.isDirectory()) out.push(...(await filesUnder(full)));
    else if (d.isFile()) out.push(full);
  }
  return out;
}

/** A consistent copy of a live database (see the invariants), and its schema version. */
export async function snapshotDatabase(source: string, target: string): Promise<number> {
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    // one step for every page: see the invariants
    await db.backup(target, { progress: () => 0x7fffffff });
  } finally {
    db.close();
  }
  const copy = new Database(target);
  try {
    // the copy is a database of its own: no WAL beside it to carry around
    copy.pragma('journal_mode = DELETE');
    return copy.pragma('user_version', { simple: true }) as number;
  } finally {
    copy.close();
  }
}

export interface CreateBackupOptions {
  config: Config;
  /** The backup file to write (its directory must exist); written under a temporary name, renamed at the end. */
  file: string;
  passphrase?: string;
  progress?: BackupProgress;
}

/** Takes a backup; returns its manifest. */
export async function createBackup(o: CreateBackupOptions): Promise<BackupManifest> {
  const { config } = o;
  const target = resolve(o.file);
  const staging = await mkdtemp(join(dirname(target), '.postern-backup-'));
  const partial = `${target}.partial`;
  try {
    const base = dirname(config.file);
    const originOf = (p: string): string => (p.startsWith(base + sep) ? relative(base, p) : p);
    const files: Array<{ name: string; path: string; origin: string }> = [];
    const schema = { mail: 0, queue: 0 };
    if (existsSync(mailDbPath(config))) {
      schema.mail = await snapshotDatabase(mailDbPath(config), join(staging, 'mail.db'));
      files.push({ name: 'mail.db', path: join(staging, 'mail.db'), origin: originOf(mailDbPath(config)) });
    }
    if (existsSync(queueDbPath(config))) {
      schema.queue = await snapshotDatabase(queueDbPath(config), join(staging, 'queue.db'));
      files.push({ name: 'queue.db', path: join(staging, 'queue.db'), origin: originOf(queueDbPath(config)) });
    }
    if (files.length === 0) throw new BackupError(`no mail.db or queue.db in ${config.dataDir}`);
    files.push({ name: `config/${basename(config.file)}`, path: config.file, origin: originOf(config.file) });
    for (const f of await filesUnder(join(config.dataDir, 'dkim'))) {
      files.push({ name: `dkim/${relative(join(config.dataDir, 'dkim'), f).split(sep).join('/')}`, path: f, origin: originOf(f) });
    }
    for (const [name, path] of [
      ['tls/cert.pem', config.tlsCert],
      ['tls/key.pem', config.tlsKey],
    ] as const) {
      if (existsSync(path)) files.push({ name, path, origin: originOf(path) });
    }
    if (config.transfer.smarthost_auth_file && existsSync(config.transfer.smarthost_auth_file)) {
      files.push({ name: 'secrets/smarthost-auth', path: config.transfer.smarthost_auth_file, origin: originOf(config.transfer.smarthost_auth_file) });
    }

    const sizes = await Promise.all(files.map(async (f) => (await stat(f.path)).size));
    const total = sizes.reduce((n, s) => n + s, 0);
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      created: new Date().toISOString(),
      host: hostname(),
      schema,
      encrypted: !!o.passphrase,
      entries: [],
    };

    const pack = tar.pack();
    let done = 0;
    const produce = async (): Promise<void> => {
      for (const [i, f] of files.entries()) {
        const h = createHash('sha256');
        // a config or key file may change under us: the entry has the size read, and the hash of what was read
        const size = sizes[i]!;
        await new Promise<void>((resolveEntry, reject) => {
          const entry = pack.entry({ name: f.name, size, mode: 0o600, mtime: new Date() }, (err) => (err ? reject(err) : resolveEntry()));
          if (size === 0) {
            (entry as unknown as Writable).end();
            return;
          }
          const input = createReadStream(f.path, { end: size - 1, start: 0 });
          input.on('data', (chunk) => {
            h.update(chunk as Buffer);
            done += chunk.length;
            o.progress?.(done, total);
          });
          input.on('error', reject);
          input.pipe(entry as unknown as Writable);
        });
        manifest.entries.push({ name: f.name, size, sha256: h.digest('hex'), origin: f.origin });
      }
      const json = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      await new Promise<void>((res, rej) => pack.entry({ name: 'manifest.json', size: json.length, mode: 0o600 }, json, (err) => (err ? rej(err) : res())));
      pack.finalize();
    };

    const stages: Array<NodeJS.ReadWriteStream> = [createGzip({ level: 6 })];
    let header: Buffer | null = null;
    let cipher: CipherGCM | null = null;
    if (o.passphrase) {
      const salt = randomBytes(16);
      const iv = randomBytes(12);
      const key = await scrypt(o.passphrase, salt, SCRYPT);
      header = encodeHeader(salt, iv, keyCheck(key));
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(header);
      cipher = c;
      stages.push(c);
    }
    const out = createWriteStream(partial, { mode: 0o600 });
    if (header) out.write(header);
    await Promise.all([produce(), pipeline(Readable.from(pack), ...(stages as [NodeJS.ReadWriteStream]), out)]);
    if (cipher) {
      const fh = await open(partial, 'a');
      try {
        await fh.write(cipher.getAuthTag());
        await fh.sync();
      } finally {
        await fh.close();
      }
    } else {
      const fh = await open(partial, 'r+');
      await fh.sync();
      await fh.close();
    }
    await rename(partial, target);
    return manifest;
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(partial, { force: true });
  }
}

export interface ExtractedBackup {
  dir: string;
  manifest: BackupManifest;
  /** Removes the staging directory. */
  remove(): Promise<void>;
}

/**
 * Reads a backup into a new directory under `parent`, verifying everything (see the invariants).
 * Throws BackupError with a reason a person can act on; nothing of a failed read is left.
 */
export async function extractBackup(file: string, parent: string, passphrase?: string, progress?: BackupProgress): Promise<ExtractedBackup> {
  const encrypted = await backupIsEncrypted(file);
  const size = (await stat(file)).size;
  let input: Readable;
  const stages: NodeJS.ReadWriteStream[] = [];
  if (encrypted) {
    if (!passphrase) throw new BackupError(`${file} is encrypted: give its passphrase`);
    if (size < HEADER_SIZE + TAG_SIZE) throw new BackupError(`${file} is truncated`);
    const fh = await open(file, 'r');
    const header = Buffer.alloc(HEADER_SIZE);
    const tag = Buffer.alloc(TAG_SIZE);
    try {
      await fh.read(header, 0, HEADER_SIZE, 0);
      await fh.read(tag, 0, TAG_SIZE, size - TAG_SIZE);
    } finally {
      await fh.close();
    }
    // magic 8, salt 16, log2 N / r / p 3, IV 12, key check 16 (encodeHeader)
    const at = MAGIC.length;
    const salt = header.subarray(at, at + 16);
    const [logN, r, p] = [header[at + 16]!, header[at + 17]!, header[at + 18]!];
    const iv = header.subarray(at + 19, at + 31);
    const check = header.subarray(at + 31, at + 47);
    if (logN > 22 || r > 32 || p > 16) throw new BackupError(`${file}: key derivation parameters out of range`);
    const key = await scrypt(passphrase, salt, { N: 2 ** logN, r, p, maxmem: 2 ** logN * r * 128 * 2 });
    if (!timingSafeEqual(keyCheck(key), check)) throw new BackupError(`${file}: wrong passphrase`);
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(header);
    d.setAuthTag(tag);
    stages.push(d);
    input = createReadStream(file, { start: HEADER_SIZE, end: size - TAG_SIZE - 1 });
  } else {
    input = createReadStream(file);
  }
  stages.push(createGunzip());
  const meter = new Meter((n) => progress?.(n, size));
  const dir = await mkdtemp(join(parent, '.postern-restore-'));
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const extract = tar.extract();
    const sink = new PassThrough();
    const hashes = new Map<string, { size: number; sha256: string }>();
    let manifestText = '';
    const consume = (async () => {
      for await (const entry of extract) {
        const name = entry.header.name;
        if (entry.header.type !== 'file' || name.startsWith('/') || name.split('/').includes('..')) throw new BackupError(`${file}: unexpected entry ${name}`);
        if (name === 'manifest.json') {
          for await (const chunk of entry) manifestText += (chunk as Buffer).toString('utf8');
          continue;
        }
        const path = join(dir, ...name.split('/'));
        await mkdir(dirname(path), { recursive: true });
        const h = createHash('sha256');
        let n = 0;
        const w = createWriteStream(path, { mode: 0o600 });
        for await (const chunk of entry) {
          h.update(chunk as Buffer);
          n += (chunk as Buffer).length;
          if (!w.write(chunk)) await new Promise<void>((r) => w.once('drain', r));
        }
        await new Promise<void>((res, rej) => w.end((err?: Error | null) => (err ? rej(err) : res())));
        hashes.set(name, { size: n, sha256: h.digest('hex') });
      }
    })();
    sink.pipe(extract as unknown as Writable);
    const feeding = pipeline(input, meter, ...(stages as [NodeJS.ReadWriteStream]), sink);
    // either side failing ends the other: a damaged stream must not leave the reader waiting
    feeding.catch((err: Error) => extract.destroy(err));
    consume.catch((err: Error) => input.destroy(err));
    const results = await Promise.allSettled([feeding, consume]);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) {
      extract.destroy();
      const reason = failed.reason as Error;
      if (reason instanceof BackupError) throw reason;
      if (/authenticate/.test(reason.message)) throw new BackupError(`${file}: the file was changed or is damaged (authentication failed)`);
      throw new BackupError(`${file}: not a readable Postern backup (${reason.message})`);
    }
    let manifest: BackupManifest;
    try {
      manifest = JSON.parse(manifestText) as BackupManifest;
    } catch {
      throw new BackupError(`${file}: no manifest (a truncated or foreign file)`);
    }
    if (manifest.format !== BACKUP_FORMAT) throw new BackupError(`${file}: backup format ${manifest.format}, this Postern reads ${BACKUP_FORMAT}`);
    for (const e of manifest.entries) {
      const got = hashes.get(e.name);
      if (!got || got.sha256 !== e.sha256 || got.size !== e.size) throw new BackupError(`${file}: ${e.name} does not match the manifest`);
    }
    for (const db of ['mail.db', 'queue.db']) {
      if (!hashes.has(db)) continue;
      const result = integrityCheck(join(dir, db));
      if (result !== 'ok') throw new BackupError(`${file}: ${db} fails PRAGMA integrity_check: ${result}`);
    }
    if ((manifest.schema.mail ?? 0) > MAIL_MIGRATIONS.length || (manifest.schema.queue ?? 0) > QUEUE_MIGRATIONS.length) {
      throw new BackupError(`${file} was made by a newer Postern (schema ${manifest.schema.mail}/${manifest.schema.queue}); upgrade first`);
    }
    return { dir, manifest, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** PRAGMA integrity_check of a database file: "ok" or the first problems. */
export function integrityCheck(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

export interface RestoreResult {
  manifest: BackupManifest;
  configWritten: boolean;
  restored: string[];
  kept: string[];
}

/**
 * Full restore into an installation with no mail yet: `configFile` is written from the backup if
 * it does not exist (a new machine); the data directory it names must hold no mail.db or
 * queue.db. Keys already present are kept (and listed), missing ones restored.
 */
export async function restoreBackup(
  file: string,
  configFile: string,
  loadConfig: (file: string) => Config,
  passphrase?: string,
  progress?: BackupProgress,
): Promise<RestoreResult> {
  const configPath = resolve(configFile);
  await mkdir(dirname(configPath), { recursive: true });
  const staged = await extractBackup(file, dirname(configPath), passphrase, progress);
  try {
    const { manifest, dir } = staged;
    const configEntry = manifest.entries.find((e) => e.name.startsWith('config/'));
    let configWritten = false;
    if (!existsSync(configPath)) {
      if (!configEntry) throw new BackupError(`${file} holds no config and ${configPath} does not exist`);
      await rename(join(dir, ...configEntry.name.split('/')), configPath);
      configWritten = true;
    }
    const config = loadConfig(configPath);
    for (const db of [mailDbPath(config), queueDbPath(config)]) {
      if (existsSync(db)) throw new BackupError(`${db} exists: a full restore goes into an empty data directory (restore selected mail with --user)`);
    }
    await mkdir(config.dataDir, { recursive: true });
    const restored: string[] = [];
    const kept: string[] = [];
    const place = async (name: string, target: string): Promise<void> => {
      if (!manifest.entries.some((e) => e.name === name)) return;
      if (existsSync(target)) {
        kept.push(target);
        return;
      }
      await mkdir(dirname(target), { recursive: true });
      await rename(join(dir, ...name.split('/')), target);
      restored.push(target);
    };
    // keys and secrets first, the databases last: a data directory with a mail.db is a restored one
    for (const e of manifest.entries.filter((x) => x.name.startsWith('dkim/')))
      await place(e.name, join(config.dataDir, 'dkim', ...e.name.slice(5).split('/')));
    await place('tls/cert.pem', config.tlsCert);
    await place('tls/key.pem', config.tlsKey);
    if (config.transfer.smarthost_auth_file) await place('secrets/smarthost-auth', config.transfer.smarthost_auth_file);
    await place('queue.db', queueDbPath(config));
    await place('mail.db', mailDbPath(config));
    return { manifest, configWritten, restored, kept };
  } finally {
    await staged.remove();
  }
}
