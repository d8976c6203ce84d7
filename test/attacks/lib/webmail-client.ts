/**
 * The webmail spoken to over plain HTTP, as a script (or an attacker) would: cookies kept by
 * hand, the CSRF token read from the page, same-origin POSTs. No browser: what the server sends
 * is exactly what is checked.
 */
export class WebmailClient {
  private readonly cookies = new Map<string, string>();
  csrf = '';

  /** `fixed`: headers sent with every request (a proxy's X-Forwarded-For, say). */
  constructor(
    readonly base: string,
    private readonly fixed: Record<string, string> = {},
  ) {}

  private remember(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /max-age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...this.fixed, cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...extra };
  }

  private readCsrf(html: string): void {
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    if (m) this.csrf = m[1]!;
  }

  async get(path: string): Promise<{ status: number; headers: Headers; body: string; bytes: Buffer }> {
    const res = await fetch(this.base + path, { headers: this.headers(), redirect: 'manual' });
    this.remember(res);
    const bytes = Buffer.from(await res.arrayBuffer());
    const body = bytes.toString('utf8');
    this.readCsrf(body);
    return { status: res.status, headers: res.headers, body, bytes };
  }

  async post(path: string, form: FormData | URLSearchParams): Promise<{ status: number; headers: Headers; body: string }> {
    if (!form.has('_csrf')) form.set('_csrf', this.csrf);
    const res = await fetch(this.base + path, { method: 'POST', body: form, headers: this.headers({ origin: this.base }), redirect: 'manual' });
    this.remember(res);
    const body = await res.text();
    this.readCsrf(body);
    return { status: res.status, headers: res.headers, body };
  }

  async login(user: string, password: string): Promise<void> {
    await this.get('/login');
    const r = await this.post('/login', new URLSearchParams({ user, password }));
    if (r.status !== 303) throw new Error(`webmail login failed: ${r.status} ${r.body.slice(0, 300)}`);
    // a page with the session's CSRF token
    await this.get(r.headers.get('location') ?? '/');
  }
}
