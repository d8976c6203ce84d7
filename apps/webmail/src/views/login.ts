import { html, type Html } from '../html.js';
import { document } from './layout.js';

export interface LoginView {
  csrf: string;
  user: string;
  error: string | null;
  notice: string | null;
}

export function loginPage(v: LoginView): Html {
  return document(
    'Log in',
    html`<main class="login">
  <h1>Postern</h1>
  <form method="post" action="/login" class="card">
    ${v.notice ? html`<p class="flash ok" role="status">${v.notice}</p>` : ''}
    ${v.error ? html`<p class="flash error" role="alert" id="login-error">${v.error}</p>` : ''}
    <input type="hidden" name="_csrf" value="${v.csrf}">
    <label>Email address <input type="email" name="user" value="${v.user}" autocomplete="username" required autofocus></label>
    <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
    <button type="submit" class="primary">Log in</button>
  </form>
</main>`,
    html`class="login-page"`,
  );
}

export interface CodeView {
  csrf: string;
  error: string | null;
}

/** The second step of a two-factor login: a code from the authenticator app, or a recovery code. */
export function codePage(v: CodeView): Html {
  return document(
    'Two-factor login',
    html`<main class="login">
  <h1>Postern</h1>
  <form method="post" action="/login/code" class="card">
    ${v.error ? html`<p class="flash error" role="alert" id="login-error">${v.error}</p>` : ''}
    <input type="hidden" name="_csrf" value="${v.csrf}">
    <label>Code from your authenticator app, or a recovery code
      <input type="text" name="code" id="code" inputmode="numeric" autocomplete="one-time-code" maxlength="20" required autofocus></label>
    <button type="submit" class="primary">Log in</button>
    <p><a href="/login">Start again</a></p>
  </form>
</main>`,
    html`class="login-page"`,
  );
}

export function errorPage(status: number, message: string, home: boolean): Html {
  const title = status === 403 ? 'Refused' : status === 404 ? 'Not found' : status >= 500 ? 'Something went wrong' : 'Cannot do that';
  return document(
    title,
    html`<main class="login"><div class="card"><h1>${title}</h1><p id="error-message">${message}</p><p>${
      home ? html`<a href="/">Back to your mail</a>` : html`<a href="/login">Log in</a>`
    }</p></div></main>`,
    html`class="login-page"`,
  );
}
