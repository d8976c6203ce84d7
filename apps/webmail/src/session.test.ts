import { describe, expect, it } from 'vitest';
import { LoginForms, SessionStore, tokensEqual } from './session.js';

function resources(): { close(): Promise<void>; closed: boolean } {
  const r = {
    closed: false,
    close: async (): Promise<void> => {
      r.closed = true;
    },
  };
  return r;
}

describe('SessionStore', () => {
  it('gives each session unguessable, distinct ids and CSRF tokens', () => {
    const store = new SessionStore(60_000);
    const a = store.create('a@x.test', 'pw', resources());
    const b = store.create('a@x.test', 'pw', resources());
    expect(a.id).not.toBe(b.id);
    expect(a.csrf).not.toBe(a.id);
    expect(Buffer.from(a.id, 'base64url').length).toBe(32);
    expect(store.get(a.id)).toBe(a);
    expect(store.get('nope')).toBeNull();
    expect(store.get(undefined)).toBeNull();
    void store.closeAll();
  });

  it('expires a session at its lifetime and closes its connections', async () => {
    let t = 1000;
    const store = new SessionStore(5000, () => t);
    const r = resources();
    const s = store.create('a@x.test', 'pw', r);
    t = 5999;
    expect(store.get(s.id)).toBe(s);
    expect(store.secondsLeft(s)).toBe(0);
    t = 6000;
    expect(store.get(s.id)).toBeNull();
    await new Promise((res) => setImmediate(res));
    expect(r.closed).toBe(true);
    expect(store.size).toBe(0);
    await store.closeAll();
  });

  it('forgets a session on logout', async () => {
    const store = new SessionStore(60_000);
    const r = resources();
    const s = store.create('a@x.test', 'pw', r);
    await store.destroy(s.id);
    expect(store.get(s.id)).toBeNull();
    expect(r.closed).toBe(true);
    await store.closeAll();
  });
});

describe('tokensEqual', () => {
  it('compares exactly', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'abd')).toBe(false);
    expect(tokensEqual('abc', 'abcd')).toBe(false);
    expect(tokensEqual('', '')).toBe(false);
  });
});

describe('LoginForms', () => {
  it('accepts a form once, from the address it was issued to, before it expires', () => {
    let t = 0;
    const forms = new LoginForms(1000, () => t);
    const f = forms.issue('192.0.2.1');
    expect(forms.redeem(f.id, f.token, '192.0.2.1')).toBe(true);
    expect(forms.redeem(f.id, f.token, '192.0.2.1')).toBe(false);
    const g = forms.issue('192.0.2.1');
    expect(forms.redeem(g.id, g.token, '198.51.100.1')).toBe(false);
    const h = forms.issue('192.0.2.1');
    expect(forms.redeem(h.id, h.id, '192.0.2.1')).toBe(false);
    const old = forms.issue('192.0.2.1');
    t = 1001;
    expect(forms.redeem(old.id, old.token, '192.0.2.1')).toBe(false);
    expect(forms.redeem(undefined, 'x', '192.0.2.1')).toBe(false);
  });

  it('holds a bounded number of forms per address', () => {
    const forms = new LoginForms();
    const first = forms.issue('192.0.2.9');
    for (let i = 0; i < 500; i++) forms.issue('192.0.2.9');
    expect(forms.size).toBeLessThanOrEqual(100);
    expect(forms.redeem(first.id, first.token, '192.0.2.9')).toBe(false);
    const other = forms.issue('198.51.100.9');
    expect(forms.redeem(other.id, other.token, '198.51.100.9')).toBe(true);
  });
});
