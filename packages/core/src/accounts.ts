/**
 * Accounts: domains, users (the login is the full address), aliases (one address to one or more
 * local users), a catch-all per domain, and plus-addressing (`alice+news@` reaches alice).
 *
 * Resolution order for a recipient (as Postfix's virtual maps do): the exact user, an exact
 * alias, then the same two for the address without its +detail, then the default aliases of
 * the administrator (root, postmaster, abuse, MAILER-DAEMON: RFC 5321 §4.5.1, RFC 2142), then
 * the domain's catch-all.
 *
 * The host name (and "localhost") is a local domain for the machine's own accounts, as
 * Postfix's mydestination includes $myhostname: root@<hostname> (cron's sender), the other
 * default aliases and every /etc/passwd name there reach the administrator, so a bounce to a
 * cron job's sender is delivered.
 */
import { prepared, type Db } from './sqlite.js';
import { addressKey, formatAddress, loginKey, normalizeDomain, parseAddress, splitDetail, type Address } from './address.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from './password.js';
import { appPasswordKey, authCache } from './auth-cache.js';
import { Credentials, type LoginProtocol } from './credentials.js';
import { DEFAULT_MAILBOXES, newUidValidity } from './store/mailboxes.js';
import { deleteUserMessages } from './store/store.js';
import { isUnixUser } from './unix-users.js';
import { parseScramKeys, scramKeysFor, type ScramKeys } from './scram.js';

/** Local parts that reach the administrator unless a user or alias of that name exists. */
export const ADMIN_ALIASES: ReadonlySet<string> = new Set(['root', 'postmaster', 'abuse', 'mailer-daemon']);

/** Who the machine's own mail reaches: `hostname` from the config, and `admin` ("" = first user). */
export interface SystemAccounts {
  hostname: string;
  admin: string;
}

export interface Domain {
  id: number;
  name: string;
  catchAll: string | null;
}

export interface User {
  id: number;
  address: string;
  domainId: number;
  quotaBytes: number;
  /** May use the web admin (`postern user add --admin`). */
  admin: boolean;
}

/** One account's last login over one protocol from one source (throttle.ts writes them). */
export interface LastLogin {
  protocol: string;
  ip: string;
  at: number;
}

export interface AuthenticateOptions {
  /**
   * What the login is for. With two-factor login on, the account password works for 'webmail'
   * only (whose form asks for the code); the device protocols then take app passwords alone, as
   * Fastmail and Gmail do. An app password limited to some protocols works only for those; none
   * works for 'webmail'. Without a protocol, only unlimited app passwords are tried.
   */
  protocol?: LoginProtocol;
}

export interface Alias {
  address: string;
  targets: string[];
}

/**
 * `forwards`: outside addresses an alias also forwards to (the delivery agent queues them with
 * SRS and an ARC seal, apps/delivery/src/sieve-delivery.ts); `users` may then be empty.
 */
export type Resolution = { kind: 'local'; users: User[]; forwards?: string[] } | { kind: 'unknown-user' } | { kind: 'not-local' };

/** Outside addresses one alias may forward to (the user's limit on forward targets). */
export const MAX_ALIAS_FORWARDS = 10;

export class AccountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AccountError';
  }
}

interface UserRow {
  id: number;
  address: string;
  domain_id: number;
  quota_bytes: number;
  admin: number;
}

const USER_COLUMNS = 'id, address, domain_id, quota_bytes, admin';
const toUser = (r: UserRow): User => ({ id: r.id, address: r.address, domainId: r.domain_id, quotaBytes: r.quota_bytes, admin: r.admin === 1 });

export class Accounts {
  /** App passwords, session credentials, TOTP and recovery codes (credentials.ts). */
  readonly credentials: Credentials;

  constructor(
    private readonly db: Db,
    private readonly system: SystemAccounts | null = null,
  ) {
    this.credentials = new Credentials(db);
  }

  // --- domains -----------------------------------------------------------------------------

  addDomain(name: string): Domain {
    const domain = normalizeDomain(name);
    if (this.findDomain(domain)) throw new AccountError(`domain ${domain} exists already`);
    const info = prepared(this.db, 'INSERT INTO domains (name, created) VALUES (?, ?)').run(domain, Date.now());
    return { id: Number(info.lastInsertRowid), name: domain, catchAll: null };
  }

  findDomain(name: string): Domain | null {
    let domain: string;
    try {
      domain = normalizeDomain(name);
    } catch {
      return null;
    }
    const row = prepared<{ id: number; name: string; catch_all: string | null }>(
      this.db,
      'SELECT d.id, d.name, u.address AS catch_all FROM domains d LEFT JOIN users u ON u.id = d.catch_all_user_id WHERE d.name = ?',
    ).get(domain);
    return row ? { id: row.id, name: row.name, catchAll: row.catch_all } : null;
  }

  listDomains(): Domain[] {
    const rows = prepared<{ id: number; name: string; catch_all: string | null }>(
      this.db,
      'SELECT d.id, d.name, u.address AS catch_all FROM domains d LEFT JOIN users u ON u.id = d.catch_all_user_id ORDER BY d.name',
    ).all();
    return rows.map((r) => ({ id: r.id, name: r.name, catchAll: r.catch_all }));
  }

  /** Removes a domain with its users, their mailboxes and messages, and its aliases. */
  removeDomain(name: string): void {
    const d = this.findDomain(name);
    if (!d) throw new AccountError(`no domain ${name}`);
    this.db
      .transaction(() => {
        prepared(this.db, "DELETE FROM aliases WHERE address LIKE '%@' || ?").run(d.name);
        prepared(this.db, "DELETE FROM alias_forwards WHERE address LIKE '%@' || ?").run(d.name);
        for (const u of this.listUsers(d.name)) this.deleteUserRows(u.id);
        prepared(this.db, 'DELETE FROM domains WHERE id = ?').run(d.id);
      })
      .immediate();
  }

  /**
   * The domain our host is named in: `hostname` itself or its nearest parent that is local
   * (mail.example.org -> example.org), else the first domain added; null with no domain. Where
   * a bare `postmaster` (RFC 5321 §4.5.1) goes.
   */
  primaryDomain(hostname: string): Domain | null {
    const labels = hostname.toLowerCase().replace(/\.$/, '').split('.');
    for (let i = 0; i < labels.length - 1; i++) {
      const d = this.findDomain(labels.slice(i).join('.'));
      if (d) return d;
    }
    return this.listDomains().sort((x, y) => x.id - y.id)[0] ?? null;
  }

  /** A domain of ours, or the host name itself (for the machine's accounts). */
  isLocalDomain(name: string): boolean {
    return this.findDomain(name) !== null || this.isHostName(name);
  }

  private isHostName(name: string): boolean {
    if (!this.system) return false;
    let domain: string;
    try {
      domain = normalizeDomain(name);
    } catch {
      return false;
    }
    return domain === this.system.hostname.toLowerCase() || domain === 'localhost';
  }

  /** The user who gets the administrator's mail: `admin`, else the first user created. */
  adminUser(): User | null {
    if (this.system?.admin) return this.findUser(this.system.admin);
    const row = prepared<UserRow>(this.db, `SELECT ${USER_COLUMNS} FROM users ORDER BY id LIMIT 1`).get();
    return row ? toUser(row) : null;
  }

  /** Sets (or clears, with null) the user who receives mail for unknown addresses of a domain. */
  setCatchAll(domainName: string, userAddress: string | null): void {
    const d = this.findDomain(domainName);
    if (!d) throw new AccountError(`no domain ${domainName}`);
    let userId: number | null = null;
    if (userAddress !== null) {
      const u = this.findUser(userAddress);
      if (!u) throw new AccountError(`no user ${userAddress}`);
      userId = u.id;
    }
    prepared(this.db, 'UPDATE domains SET catch_all_user_id = ? WHERE id = ?').run(userId, d.id);
  }

  // --- users -------------------------------------------------------------------------------

  async addUser(address: string, password: string, options: { admin?: boolean } = {}): Promise<User> {
    const a = parseAddress(address);
    const d = this.findDomain(a.domain);
    if (!d) throw new AccountError(`domain ${a.domain} is not local: add it first (postern domain add ${a.domain})`);
    const key = addressKey(a);
    if (this.findUser(key)) throw new AccountError(`user ${key} exists already`);
    checkPassword(password);
    const hash = await hashPassword(password);
    const scram = scramKeysFor(password);
    return this.db
      .transaction(() => {
        const info = prepared(
          this.db,
          'INSERT INTO users (domain_id, address, display_address, password_hash, created, admin, scram_sha256) VALUES (?, ?, ?, ?, ?, ?, ?)',
        ).run(d.id, key, formatAddress(a), hash, Date.now(), options.admin ? 1 : 0, scram);
        const id = Number(info.lastInsertRowid);
        const insertMailbox = this.db.prepare('INSERT INTO mailboxes (user_id, name, special_use, uid_validity) VALUES (?, ?, ?, ?)');
        for (const mb of DEFAULT_MAILBOXES) insertMailbox.run(id, mb.name, mb.specialUse, newUidValidity());
        return { id, address: key, domainId: d.id, quotaBytes: 0, admin: !!options.admin };
      })
      .immediate();
  }

  findUser(address: string): User | null {
    let key: string;
    try {
      key = addressKey(parseAddress(address));
    } catch {
      return null;
    }
    const row = prepared<UserRow>(this.db, `SELECT ${USER_COLUMNS} FROM users WHERE address = ?`).get(key);
    return row ? toUser(row) : null;
  }

  userById(id: number): User | null {
    const row = prepared<UserRow>(this.db, `SELECT ${USER_COLUMNS} FROM users WHERE id = ?`).get(id);
    return row ? toUser(row) : null;
  }

  listUsers(domain?: string): User[] {
    const rows = domain
      ? prepared<UserRow>(
          this.db,
          'SELECT u.id, u.address, u.domain_id, u.quota_bytes, u.admin FROM users u JOIN domains d ON d.id = u.domain_id WHERE d.name = ? ORDER BY u.address',
        ).all(normalizeDomain(domain))
      : prepared<UserRow>(this.db, `SELECT ${USER_COLUMNS} FROM users ORDER BY address`).all();
    return rows.map(toUser);
  }

  async setPassword(address: string, password: string): Promise<void> {
    const u = this.findUser(address);
    if (!u) throw new AccountError(`no user ${address}`);
    checkPassword(password);
    const hash = await hashPassword(password);
    prepared(this.db, 'UPDATE users SET password_hash = ?, scram_sha256 = ? WHERE id = ?').run(hash, scramKeysFor(password), u.id);
    // webmail sessions end with the password they were opened with; device app passwords stay
    this.credentials.revokeSessions(u.id);
  }

  /** Gives or takes the web admin. */
  setAdmin(address: string, admin: boolean): void {
    const u = this.findUser(address);
    if (!u) throw new AccountError(`no user ${address}`);
    prepared(this.db, 'UPDATE users SET admin = ? WHERE id = ?').run(admin ? 1 : 0, u.id);
  }

  /** The account's last logins, newest first (one per protocol and source, for `auth.known_source_lifetime`). */
  lastLogins(address: string, limit = 50): LastLogin[] {
    const key = loginKey(address);
    if (!key) return [];
    const rows = prepared(this.db, 'SELECT protocol, ip, last FROM last_logins WHERE account = ? ORDER BY last DESC LIMIT ?').all(key, limit) as Array<{
      protocol: string;
      ip: string;
      last: number;
    }>;
    return rows.map((r) => ({ protocol: r.protocol, ip: r.ip, at: r.last }));
  }

  /** Per-user quota in bytes; 0 means the configured default. */
  setQuota(address: string, bytes: number): void {
    const u = this.findUser(address);
    if (!u) throw new AccountError(`no user ${address}`);
    prepared(this.db, 'UPDATE users SET quota_bytes = ? WHERE id = ?').run(bytes, u.id);
  }

  removeUser(address: string): void {
    const u = this.findUser(address);
    if (!u) throw new AccountError(`no user ${address}`);
    this.db.transaction(() => this.deleteUserRows(u.id)).immediate();
  }

  private deleteUserRows(userId: number): void {
    // the store owns the messages and their contents (shared contents stay for their other holders)
    deleteUserMessages(this.db, userId);
    prepared(this.db, 'DELETE FROM users WHERE id = ?').run(userId);
  }

  /**
   * Checks a login: the account password or an app password, as `options.protocol` allows (see
   * AuthenticateOptions). Returns the user, or null for an unknown user or a wrong password: both
   * take one slow hash (a dummy hash is verified for unknown users), as does a refused account
   * password under two-factor login.
   */
  async authenticate(address: string, password: string, options: AuthenticateOptions = {}): Promise<User | null> {
    const { protocol } = options;
    const key = loginKey(address);
    const row = key
      ? prepared<UserRow & { password_hash: string; totp: number | null }>(
          this.db,
          `SELECT ${USER_COLUMNS}, password_hash, (SELECT enabled FROM totp t WHERE t.user_id = users.id) AS totp FROM users WHERE address = ?`,
        ).get(key)
      : undefined;
    if (row && key && protocol !== 'webmail') {
      // an app password: its own row's hash, its own cache entry (keyed by the row)
      for (const c of this.credentials.appPasswordCandidates(row.id, password, protocol)) {
        const cacheKey = appPasswordKey(key, c.id);
        if (authCache.verified(cacheKey, c.hash, c.secret)) return toUser(row);
        if (await verifyPassword(c.secret, c.hash)) {
          authCache.remember(cacheKey, c.hash, c.secret);
          return toUser(row);
        }
      }
    }
    // RFC 6238 logins: the device protocols no longer take the account password
    const accountPassword = row !== undefined && (row.totp !== 1 || protocol === 'webmail');
    // a password verified a moment ago is not hashed again (auth-cache.ts: Dovecot's auth_cache)
    if (key && row && accountPassword && authCache.verified(key, row.password_hash, password)) return toUser(row);
    const ok = await verifyPassword(password, accountPassword ? row.password_hash : DUMMY_HASH);
    if (!ok || !row || !key || !accountPassword) return null;
    authCache.remember(key, row.password_hash, password);
    return toUser(row);
  }

  /**
   * The SCRAM-SHA-256 keys of a login (RFC 5802), or null: unknown user, a password set before
   * SCRAM keys were kept, or two-factor login on (the account password then serves the webmail
   * alone, and a SCRAM exchange cannot say which app password it means before the salt is sent).
   */
  scramKeys(address: string): { user: User; keys: ScramKeys } | null {
    const key = loginKey(address);
    if (!key) return null;
    const row = prepared(this.db, `SELECT ${USER_COLUMNS}, scram_sha256 FROM users WHERE address = ?`).get(key) as
      | (UserRow & { scram_sha256: string | null })
      | undefined;
    const keys = parseScramKeys(row?.scram_sha256);
    if (!row || !keys || this.credentials.totpEnabled(row.id)) return null;
    return { user: toUser(row), keys };
  }

  /** Does the account need a second factor at the webmail? */
  twoFactor(user: User): boolean {
    return this.credentials.totpEnabled(user.id);
  }

  // --- aliases -----------------------------------------------------------------------------

  addAlias(address: string, targets: readonly string[]): void {
    const a = parseAddress(address);
    if (!this.findDomain(a.domain)) throw new AccountError(`domain ${a.domain} is not local`);
    const key = addressKey(a);
    if (this.findUser(key)) throw new AccountError(`${key} is a user; an alias cannot shadow it`);
    if (targets.length === 0) throw new AccountError('an alias needs at least one target');
    const users: User[] = [];
    const forwards: string[] = [];
    for (const t of targets) {
      const ta = parseAddress(t);
      // a target in one of our domains must be a user; any other address is forwarded to
      if (this.findDomain(ta.domain) || this.isHostName(ta.domain)) {
        const u = this.findUser(t);
        if (!u) throw new AccountError(`alias target ${t} is not a local user`);
        users.push(u);
      } else forwards.push(formatAddress(ta));
    }
    const insert = this.db.prepare('INSERT OR IGNORE INTO aliases (address, user_id) VALUES (?, ?)');
    const insertForward = this.db.prepare('INSERT OR IGNORE INTO alias_forwards (address, target) VALUES (?, ?)');
    this.db
      .transaction(() => {
        for (const u of users) insert.run(key, u.id);
        for (const f of forwards) insertForward.run(key, f);
        const n = prepared(this.db, 'SELECT count(*) FROM alias_forwards WHERE address = ?').pluck().get(key) as number;
        if (n > MAX_ALIAS_FORWARDS) throw new AccountError(`an alias may forward to at most ${MAX_ALIAS_FORWARDS} outside addresses`);
      })
      .immediate();
  }

  /** Removes the alias, or only one of its targets. */
  removeAlias(address: string, target?: string): void {
    const key = addressKey(parseAddress(address));
    let n: number;
    if (target) {
      const u = this.findUser(target);
      n = u ? prepared(this.db, 'DELETE FROM aliases WHERE address = ? AND user_id = ?').run(key, u.id).changes : 0;
      if (n === 0) n = prepared(this.db, 'DELETE FROM alias_forwards WHERE address = ? AND target = ?').run(key, formatAddress(parseAddress(target))).changes;
    } else {
      n = prepared(this.db, 'DELETE FROM aliases WHERE address = ?').run(key).changes;
      n += prepared(this.db, 'DELETE FROM alias_forwards WHERE address = ?').run(key).changes;
    }
    if (n === 0) throw new AccountError(`no alias ${key}${target ? ` to ${target}` : ''}`);
  }

  listAliases(): Alias[] {
    const rows = prepared<{ address: string; target: string }>(
      this.db,
      `SELECT address, target FROM (SELECT a.address, u.address AS target FROM aliases a JOIN users u ON u.id = a.user_id
         UNION ALL SELECT address, target FROM alias_forwards) ORDER BY address, target`,
    ).all();
    const out: Alias[] = [];
    for (const r of rows) {
      const last = out[out.length - 1];
      if (last && last.address === r.address) last.targets.push(r.target);
      else out.push({ address: r.address, targets: [r.target] });
    }
    return out;
  }

  /** Every address a user may send as: their own and each alias that reaches them. */
  addressesOf(user: User): string[] {
    const rows = prepared<{ address: string }>(this.db, 'SELECT address FROM aliases WHERE user_id = ?').all(user.id);
    return [user.address, ...rows.map((r) => r.address)];
  }

  /** May `user` use `address` as a sender? Own address, an alias to them, or either with +detail. */
  maySendAs(user: User, address: string): boolean {
    let a: Address;
    try {
      a = parseAddress(address);
    } catch {
      return false;
    }
    const own = new Set(this.addressesOf(user));
    if (own.has(addressKey(a))) return true;
    const { base, detail } = splitDetail(a.local);
    return detail !== null && own.has(addressKey({ local: base, domain: a.domain }));
  }

  // --- resolution --------------------------------------------------------------------------

  /** Where mail for `address` goes. */
  resolve(address: Address): Resolution {
    const domain = this.findDomain(address.domain);
    const { base, detail } = splitDetail(address.local);
    const lower = base.toLowerCase();
    if (!domain) {
      if (!this.isHostName(address.domain)) return { kind: 'not-local' };
      const admin = ADMIN_ALIASES.has(lower) || isUnixUser(base) ? this.adminUser() : null;
      return admin ? { kind: 'local', users: [admin] } : { kind: 'unknown-user' };
    }
    const exact = this.lookup(addressKey(address));
    const exactForwards = this.forwardsOf(addressKey(address));
    if (exact.length > 0 || exactForwards.length > 0) return { kind: 'local', users: exact, ...(exactForwards.length ? { forwards: exactForwards } : {}) };
    if (detail !== null) {
      const key = addressKey({ local: base, domain: address.domain });
      const stripped = this.lookup(key);
      const forwards = this.forwardsOf(key);
      if (stripped.length > 0 || forwards.length > 0) return { kind: 'local', users: stripped, ...(forwards.length ? { forwards } : {}) };
    }
    if (ADMIN_ALIASES.has(lower)) {
      const admin = this.adminUser();
      if (admin) return { kind: 'local', users: [admin] };
    }
    if (domain.catchAll) {
      const u = this.findUser(domain.catchAll);
      if (u) return { kind: 'local', users: [u] };
    }
    return { kind: 'unknown-user' };
  }

  private forwardsOf(key: string): string[] {
    return prepared(this.db, 'SELECT target FROM alias_forwards WHERE address = ? ORDER BY target').pluck().all(key) as string[];
  }

  private lookup(key: string): User[] {
    const user = prepared<UserRow>(this.db, `SELECT ${USER_COLUMNS} FROM users WHERE address = ?`).get(key);
    if (user) return [toUser(user)];
    const rows = prepared<UserRow>(
      this.db,
      'SELECT u.id, u.address, u.domain_id, u.quota_bytes, u.admin FROM aliases a JOIN users u ON u.id = a.user_id WHERE a.address = ? ORDER BY u.id',
    ).all(key);
    return rows.map(toUser);
  }
}

/** Rejects passwords no one should use; the rest is the user's business. */
function checkPassword(password: string): void {
  if (password.length < 8) throw new AccountError('a password needs at least 8 characters');
  if (password.length > 1024) throw new AccountError('a password may have at most 1024 characters');
  if (/[\r\n\0]/.test(password)) throw new AccountError('a password may not contain line breaks or NUL');
}
