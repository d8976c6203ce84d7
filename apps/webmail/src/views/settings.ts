/** The security settings page: two-factor login, app passwords, last logins (issue 23). */
import { DEVICE_PROTOCOLS, type AppPassword, type LastLogin } from '@postern/core';
import { html, type Html } from '../html.js';

const PROTOCOL_NAMES: Record<string, string> = { imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP (sending)', managesieve: 'ManageSieve (filters)', webmail: 'Webmail' };

const when = (t: number): string =>
  new Date(t)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
const hidden = (csrf: string): Html => html`<input type="hidden" name="_csrf" value="${csrf}">`;

export interface SettingsView {
  csrf: string;
  twoFactor: boolean;
  recoveryCodesLeft: number;
  appPasswords: AppPassword[];
  lastLogins: LastLogin[];
}

export function settingsPage(v: SettingsView): Html {
  return html`<section class="settings">
<h1>Security</h1>
<h2>Two-factor login</h2>
${
  v.twoFactor
    ? html`<p id="two-factor-status">Two-factor login is <strong>on</strong>: the webmail asks for a code from your authenticator app after your password, and mail apps need an app password. ${v.recoveryCodesLeft} recovery codes left.</p>
<form method="post" action="/settings/two-factor/off" class="card">${hidden(v.csrf)}
  <label>Your password, to turn it off <input type="password" name="password" autocomplete="current-password" required></label>
  <button type="submit">Turn two-factor login off</button>
</form>`
    : html`<p id="two-factor-status">Two-factor login is <strong>off</strong>. With it on, a stolen password is not enough to read your mail.</p>
<form method="post" action="/settings/two-factor/begin">${hidden(v.csrf)}<button type="submit" class="primary" id="two-factor-begin">Turn on two-factor login</button></form>`
}
<h2>App passwords</h2>
<p>One for each mail app or device. An app password is shown once; revoke it when the device is gone.</p>
${
  v.appPasswords.length === 0
    ? html`<p id="no-app-passwords">No app passwords.</p>`
    : html`<table class="app-passwords" id="app-passwords"><thead><tr><th>Name</th><th>For</th><th>Made</th><th></th></tr></thead><tbody>${v.appPasswords.map(
        (
          p,
        ) => html`<tr><td>${p.name}</td><td>${p.protocols.length ? p.protocols.map((x) => PROTOCOL_NAMES[x] ?? x).join(', ') : 'all mail apps'}</td><td>${when(p.created)}</td>
<td><form method="post" action="/settings/app-passwords/revoke">${hidden(v.csrf)}<input type="hidden" name="id" value="${p.id}"><button type="submit" class="link">Revoke</button></form></td></tr>`,
      )}</tbody></table>`
}
<form method="post" action="/settings/app-passwords" class="card" id="new-app-password">${hidden(v.csrf)}
  <label>Name (the device it is for) <input type="text" name="name" maxlength="100" required></label>
  <fieldset><legend>Only for (none ticked: all)</legend>${DEVICE_PROTOCOLS.map(
    (p) => html`<label><input type="checkbox" name="protocols" value="${p}"> ${PROTOCOL_NAMES[p]}</label>`,
  )}</fieldset>
  <button type="submit">Make an app password</button>
</form>
<h2>Last logins</h2>
${
  v.lastLogins.length === 0
    ? html`<p>None recorded yet.</p>`
    : html`<table class="last-logins" id="last-logins"><thead><tr><th>When</th><th>How</th><th>From</th></tr></thead><tbody>${v.lastLogins.map(
        (l) => html`<tr><td>${when(l.at)}</td><td>${PROTOCOL_NAMES[l.protocol] ?? l.protocol}</td><td>${l.ip}</td></tr>`,
      )}</tbody></table>`
}
</section>`;
}

/** Enrolment: scan the QR code (or type the secret), then prove it with a first code. */
export function enrolPage(v: { csrf: string; qr: string; secret: string; error: string | null }): Html {
  return html`<section class="settings">
<h1>Turn on two-factor login</h1>
${v.error ? html`<p class="flash error" role="alert">${v.error}</p>` : ''}
<p>Scan this code with an authenticator app (such as FreeOTP, Aegis or Google Authenticator), or enter the key by hand.</p>
<p><img src="${v.qr}" alt="QR code for your authenticator app" width="240" height="240" id="totp-qr"></p>
<p>Key: <code id="totp-secret">${v.secret.replace(/(.{4})/g, '$1 ').trim()}</code></p>
<form method="post" action="/settings/two-factor/confirm" class="card">${hidden(v.csrf)}
  <label>The 6-digit code the app shows <input type="text" name="code" id="code" inputmode="numeric" autocomplete="one-time-code" maxlength="10" required autofocus></label>
  <button type="submit" class="primary">Turn on</button>
</form>
</section>`;
}

/** Shown once: the recovery codes, or a new app password. */
export function shownOncePage(v: { title: string; intro: string; secrets: string[] }): Html {
  return html`<section class="settings">
<h1>${v.title}</h1>
<p>${v.intro} It is shown only now.</p>
<ul class="secrets" id="secrets">${v.secrets.map((s) => html`<li><code>${s}</code></li>`)}</ul>
<p><a href="/settings" class="button">Done</a></p>
</section>`;
}
