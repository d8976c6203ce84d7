/**
 * The page shell: header (search, compose, account, logout), the folder list with unread counts,
 * and the content. Server-rendered HTML; the one script only adds to it (live updates, keys).
 */
import { assetUrl } from '../assets.js';
import { html, isolatedName, type Html } from '../html.js';
import type { Folder } from '../mail/account.js';
import { urls } from '../urls.js';

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export interface Shell {
  title: string;
  user: string;
  csrf: string;
  folders: Folder[];
  current: string | null;
  flash?: Flash | null;
  search?: { query: string; by: string };
  /** Link the security settings (Postern's own accounts only). */
  settings?: boolean;
  /** Data for the page script (e.g. which folder to watch). */
  data?: Record<string, string>;
}

export function document(title: string, body: Html, bodyAttrs: Html = html``): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · Postern</title>
<link rel="icon" href="${assetUrl('icon.svg')}">
<link rel="stylesheet" href="${assetUrl('app.css')}">
<script type="module" src="${assetUrl('app.js')}"></script>
</head>
<body ${bodyAttrs}>
${body}
</body>
</html>`;
}

function folderLinks(folders: Folder[], current: string | null): Html {
  return html`<ul>${folders.map(
    (f) =>
      html`<li class="depth-${Math.min(f.depth, 4)}">${
        f.selectable
          ? html`<a href="${urls.list(f.path)}" data-folder="${f.path}"${f.path === current ? html` class="current" aria-current="page"` : ''}><span class="fname">${isolatedName(f.name)}</span>${
              f.unseen > 0 ? html`<span class="count" title="${f.unseen} unread">${f.unseen}</span>` : html`<span class="count"></span>`
            }</a>`
          : html`<span class="fname">${isolatedName(f.name)}</span>`
      }</li>`,
  )}</ul>`;
}

/** Just the folder list (the page script re-fetches it when counts change). */
export function folderNav(folders: Folder[], current: string | null): Html {
  return html`<nav class="folders" id="folders" aria-label="Folders">${folderLinks(folders, current)}</nav>`;
}

export function shell(s: Shell, content: Html): Html {
  const dataAttrs = Object.entries(s.data ?? {}).map(([k, v]) => html` data-${k}="${v}"`);
  const search = s.search ?? { query: '', by: 'all' };
  const body = html`<header class="top">
  <a class="brand" href="${urls.list('INBOX')}" title="Inbox">Postern</a>
  <form class="search" method="get" action="/search" role="search">
    <input type="hidden" name="f" value="${s.current ?? 'INBOX'}">
    <input type="search" name="q" value="${search.query}" placeholder="Search this folder" aria-label="Search" accesskey="/" id="search-q">
    <select name="by" aria-label="Search in">
      ${(['all', 'from', 'subject', 'text'] as const).map(
        (b) =>
          html`<option value="${b}"${b === search.by ? ' selected' : ''}>${{ all: 'Anywhere', from: 'Sender', subject: 'Subject', text: 'Full text' }[b]}</option>`,
      )}
    </select>
    <button type="submit">Search</button>
  </form>
  <a class="button primary compose" href="${urls.compose()}" accesskey="c">Compose</a>
  <div class="account">
    <span class="user" title="Logged in as ${s.user}">${s.user}</span>
    <a class="link" href="/settings/mail.mobileconfig" title="A profile that sets up Apple Mail on iPhone, iPad or Mac">Apple Mail profile</a>
    ${s.settings ? html`<a href="/settings" id="settings-link">Security</a>` : ''}
    <form method="post" action="/logout"><input type="hidden" name="_csrf" value="${s.csrf}"><button type="submit" class="link">Log out</button></form>
  </div>
</header>
<div class="frame">
${folderNav(s.folders, s.current)}
<main class="content" id="content">
${s.flash ? html`<p class="flash ${s.flash.kind}" role="${s.flash.kind === 'error' ? 'alert' : 'status'}">${s.flash.text}</p>` : ''}
${content}
</main>
</div>
<div id="toast" class="toast" role="status" aria-live="polite" hidden></div>
<datalist id="contacts"></datalist>`;
  return document(s.title, body, html`class="app" data-csrf="${s.csrf}"${dataAttrs}`);
}
