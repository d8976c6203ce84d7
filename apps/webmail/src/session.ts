/**
 * Webmail sessions, held in this process's memory only.
 *
 * Invariants:
 * - The browser holds one random 256-bit id in an HttpOnly, SameSite=Strict cookie (Secure on
 *   HTTPS) and nothing else: the password stays here, because every IMAP and SMTP login on the
 *   user's behalf needs it, and is never written to a log or a page.
 * - A session ends at `lifetime` after login (absolute, not sliding), at logout, or when the
 *   process restarts; an ended session is forgotten at once and its connections are closed.
 * - Every state-changing request carries the session's CSRF token (synchronizer token); it is
 *   compared in constant time. The login POST carries its form's token, kept here too
 *   (LoginForms): no cookie can supply it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface SessionResources {
  /** Closes the session's IMAP connections and event streams. */
  close(): Promise<void>;
}

export interface Session<R extends SessionResources = SessionResources> {
  readonly id: string;
  readonly user: string;
  /** What it logs in to IMAP and SMTP with: its own session credential, or (a foreign server) the user's password. */
  readonly password: string;
  readonly csrf: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly resources: R;
}

/** A token fit for a cookie or a form field: 32 random bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

const MAX_SESSIONS = 10_000;

export class SessionStore<R extends SessionResources = SessionResources> {
  private readonly sessions = new Map<string, Session<R>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly lifetimeMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, Math.max(1000, lifetimeMs))).unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  create(user: string, password: string, resources: R): Session<R> {
    if (this.sessions.size >= MAX_SESSIONS) {
      // The oldest session gives way; the map keeps insertion order.
      const oldest = this.sessions.keys().next().value as string;
      void this.destroy(oldest);
    }
    const t = this.now();
    const session: Session<R> = { id: newToken(), user, password, csrf: newToken(), createdAt: t, expiresAt: t + this.lifetimeMs, resources };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id; an expired one is destroyed and reported as absent. */
  get(id: string | undefined): Session<R> | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (this.now() >= s.expiresAt) {
      void this.destroy(id);
      return null;
    }
    return s;
  }

  /** Seconds left, for the cookie's Max-Age. */
  secondsLeft(s: Session<R>): number {
    return Math.max(0, Math.floor((s.expiresAt - this.now()) / 1000));
  }

  async destroy(id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    await s.resources.close().catch(() => undefined);
  }

  async sweep(): Promise<void> {
    const t = this.now();
    const ended = [...this.sessions.values()].filter((s) => t >= s.expiresAt).map((s) => s.id);
    await Promise.all(ended.map((id) => this.destroy(id)));
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.keys()].map((id) => this.destroy(id)));
  }
}

interface LoginForm {
  token: string;
  ip: string;
  expiresAt: number;
}

const MAX_LOGIN_FORMS = 50_000;
// a whole office or campus behind one NAT address loads the login page within the hour
const MAX_LOGIN_FORMS_PER_IP = 100;

/**
 * Login forms handed out (a pre-session per form, against login CSRF). The cookie carries only
 * the form's random id; its token lives here and the POST must echo it. A token an attacker makes
 * up, or plants with a cookie, is therefore refused (a double-submit cookie would be believed),
 * and a form obtained by the attacker and planted in a victim's browser is refused too: a form is
 * valid only from the address that fetched it, once, for `lifetimeMs`.
 */
export class LoginForms {
  private readonly forms = new Map<string, LoginForm>();
  private readonly perIp = new Map<string, number>();

  constructor(
    private readonly lifetimeMs = 3_600_000,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.forms.size;
  }

  issue(ip: string): { id: string; token: string } {
    // Bounded: one address cannot hold more than a few forms, nor everyone more than the cap
    // (the map keeps insertion order: the oldest go first).
    if ((this.perIp.get(ip) ?? 0) >= MAX_LOGIN_FORMS_PER_IP) {
      for (const [id, f] of this.forms) {
        if (f.ip === ip) {
          this.remove(id);
          break;
        }
      }
    }
    while (this.forms.size >= MAX_LOGIN_FORMS) this.remove(this.forms.keys().next().value as string);
    const id = newToken();
    const token = newToken();
    this.forms.set(id, { token, ip, expiresAt: this.now() + this.lifetimeMs });
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    return { id, token };
  }

  /** Whether `token` is the one issued with form `id` to `ip`; the form is used up either way. */
  redeem(id: string | undefined, token: string, ip: string): boolean {
    const f = id === undefined ? undefined : this.forms.get(id);
    if (!f || id === undefined) return false;
    this.remove(id);
    return this.now() < f.expiresAt && f.ip === ip && tokensEqual(token, f.token);
  }

  private remove(id: string): void {
    const f = this.forms.get(id);
    if (!f) return;
    this.forms.delete(id);
    const n = (this.perIp.get(f.ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(f.ip);
    else this.perIp.set(f.ip, n);
  }
}

/** A login whose password was right; its second factor is still to come (RFC 6238 code or recovery code). */
export interface PendingLogin {
  userId: number;
  address: string;
  ip: string;
  expiresAt: number;
}

const MAX_PENDING_LOGINS = 10_000;

/**
 * Logins half done, keyed by the id of the code form handed out with them (LoginForms: the code
 * POST must redeem that form, from the same address). Five minutes to type the code; each wrong
 * code is a failed login to the throttle and the pending login moves to the next form.
 */
export class PendingLogins {
  private readonly pending = new Map<string, PendingLogin>();

  constructor(
    private readonly lifetimeMs = 300_000,
    private readonly now: () => number = Date.now,
  ) {}

  add(formId: string, login: Omit<PendingLogin, 'expiresAt'> & { expiresAt?: number }): void {
    while (this.pending.size >= MAX_PENDING_LOGINS) this.pending.delete(this.pending.keys().next().value as string);
    this.pending.set(formId, { ...login, expiresAt: login.expiresAt ?? this.now() + this.lifetimeMs });
  }

  /** The pending login of this form, used up; null when there is none, it expired, or came from elsewhere. */
  take(formId: string | undefined, ip: string): PendingLogin | null {
    if (formId === undefined) return null;
    const p = this.pending.get(formId);
    this.pending.delete(formId);
    return p && p.ip === ip && this.now() < p.expiresAt ? p : null;
  }
}
