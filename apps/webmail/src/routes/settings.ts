/**
 * The user's security settings, for Postern's own accounts only (state.local; against a foreign
 * IMAP server there is nothing here to set): two-factor login (RFC 6238 enrolment with a QR code,
 * recovery codes), app passwords (made, shown once, revoked) and the last logins. Every action is
 * also a CLI command (`postern user app-password`, `user logins`, `user two-factor-off`).
 */
import QRCode from 'qrcode';
import { DEVICE_PROTOCOLS, sleep, type DeviceProtocol, type User } from '@postern/core';
import { field, fields, HttpError, type Reply } from '../http.js';
import type { AuthedCtx, Ctx, Route } from '../server.js';
import type { LocalAccounts } from '../state.js';
import { withDone } from '../urls.js';
import { enrolPage, settingsPage, shownOncePage } from '../views/settings.js';
import { authed, page } from './common.js';

const ISSUER = 'Postern';

function local(c: Ctx): { ctx: AuthedCtx; local: LocalAccounts; user: User } {
  const ctx = authed(c);
  const l = ctx.state.local;
  if (!l) throw new HttpError(404, 'There is no such page.');
  const user = l.accounts.findUser(ctx.session.user);
  if (!user) throw new HttpError(403, 'This account is gone.');
  return { ctx, local: l, user };
}

async function enrolment(ctx: AuthedCtx, uri: string, status: number, error: string | null): Promise<Reply> {
  const secret = new URL(uri).searchParams.get('secret') ?? '';
  // a PNG data: URL (the page CSP allows img-src data:); nothing leaves the server
  const qr = await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, width: 240 });
  return {
    kind: 'html',
    status,
    body: await page(ctx, 'Two-factor login', null, () => enrolPage({ csrf: ctx.session.csrf, qr, secret, error }), { flash: null }),
  };
}

export const settingsRoutes: Route[] = [
  {
    method: 'GET',
    path: '/settings',
    auth: true,
    handler: async (c) => {
      const { ctx, local: l, user } = local(c);
      const { credentials } = l.accounts;
      const body = await page(ctx, 'Security', null, () =>
        settingsPage({
          csrf: ctx.session.csrf,
          twoFactor: credentials.totpEnabled(user.id),
          recoveryCodesLeft: credentials.recoveryCodesLeft(user.id),
          appPasswords: credentials.listAppPasswords(user.id),
          lastLogins: l.accounts.lastLogins(user.address),
        }),
      );
      return { kind: 'html', body };
    },
  },
  {
    method: 'POST',
    path: '/settings/two-factor/begin',
    auth: true,
    csrf: 'session',
    handler: async (c) => {
      const { ctx, local: l, user } = local(c);
      if (l.accounts.credentials.totpEnabled(user.id)) return { kind: 'redirect', location: '/settings' };
      const { uri } = l.accounts.credentials.beginTotp(user.id, user.address, ISSUER);
      return enrolment(ctx, uri, 200, null);
    },
  },
  {
    method: 'POST',
    path: '/settings/two-factor/confirm',
    auth: true,
    csrf: 'session',
    handler: async (c) => {
      const { ctx, local: l, user } = local(c);
      const { credentials } = l.accounts;
      const codes = await credentials.confirmTotp(user.id, field(ctx.form!, 'code').slice(0, 20));
      if (!codes) {
        const uri = credentials.pendingTotpUri(user.id, user.address, ISSUER);
        if (!uri) return { kind: 'redirect', location: '/settings' };
        return enrolment(ctx, uri, 400, 'That code is not right. Check the time on your phone and try the current one.');
      }
      ctx.state.logger.info({ user: user.address }, 'two-factor login on');
      const body = await page(
        ctx,
        'Recovery codes',
        null,
        () =>
          shownOncePage({
            title: 'Two-factor login is on',
            intro: 'Keep these recovery codes somewhere safe: each logs you in once without your authenticator app. Mail apps now need an app password.',
            secrets: codes,
          }),
        { flash: null },
      );
      return { kind: 'html', body };
    },
  },
  {
    method: 'POST',
    path: '/settings/two-factor/off',
    auth: true,
    csrf: 'session',
    handler: async (c) => {
      const { ctx, local: l, user } = local(c);
      // the password again, through the throttle: a session left open is not enough
      const attempt = l.throttle.begin(ctx.ip, user.address);
      if (!attempt) throw new HttpError(429, 'Too many failed logins. Wait a few minutes and try again.');
      if (!(await l.accounts.authenticate(user.address, field(ctx.form!, 'password'), { protocol: 'webmail' }))) {
        await sleep(attempt.failed());
        throw new HttpError(403, 'That password is not right; two-factor login stays on.');
      }
      attempt.succeeded();
      l.accounts.credentials.disableTotp(user.id);
      ctx.state.logger.info({ user: user.address }, 'two-factor login off');
      return { kind: 'redirect', location: withDone('/settings', 'flagged') };
    },
  },
  {
    method: 'POST',
    path: '/settings/app-passwords',
    auth: true,
    csrf: 'session',
    handler: async (c) => {
      const { ctx, local: l, user } = local(c);
      const name = field(ctx.form!, 'name').trim().slice(0, 100);
      if (name === '' || /[\x00-\x1f\x7f]/.test(name)) throw new HttpError(400, 'Give the app password a name.');
      const protocols = fields(ctx.form!, 'protocols').filter((p): p is DeviceProtocol => (DEVICE_PROTOCOLS as readonly string[]).includes(p));
      const { secret } = await l.accounts.credentials.addAppPassword(user.id, name, protocols);
      ctx.state.logger.info({ user: user.address, name }, 'app password made');
      const body = await page(
        ctx,
        'App password',
        null,
        () =>
          shownOncePage({
            title: `App password for ${name}`,
            intro: 'Enter it in the app in place of your password (spaces do not matter).',
            secrets: [secret],
          }),
        { flash: null },
      );
      return { kind: 'html', body };
    },
  },
  {
    method: 'POST',
    path: '/settings/app-passwords/revoke',
    auth: true,
    csrf: 'session',
    handler: async (c) => {
      const { ctx, local: l, user } = local(c);
      const id = Number(field(ctx.form!, 'id'));
      if (!Number.isSafeInteger(id) || l.accounts.credentials.revokeAppPassword(user.id, id) === 0) throw new HttpError(404, 'There is no such app password.');
      ctx.state.logger.info({ user: user.address, id }, 'app password revoked');
      return { kind: 'redirect', location: withDone('/settings', 'deleted') };
    },
  },
];
