/** The message list: paged newest first, bulk actions, and rows the page script can add to live. */
import { html, isolatedName, plainName, type Html } from '../html.js';
import type { Folder, MessagePage, MessageSummary } from '../mail/account.js';
import { urls } from '../urls.js';
import { displayName, plural, size, timeTag } from './format.js';

export interface ListView {
  page: MessagePage;
  folder: Folder | null;
  folders: Folder[];
  csrf: string;
  /** Set for search results. */
  search?: { query: string; by: string };
  /** Drafts open in the composer; Sent and Drafts show recipients instead of senders. */
  role: 'inbox' | 'sent' | 'drafts' | 'trash' | 'other';
  returnTo: string;
}

/** Drawn, not an emoji: it looks the same with or without an emoji font. */
const PAPERCLIP = html`<svg class="clip" viewBox="0 0 16 16" width="14" height="14" role="img" aria-label="Has attachments"><title>Has attachments</title><path d="M10.5 4.5v6a2.5 2.5 0 0 1-5 0V4a1.5 1.5 0 0 1 3 0v6a.5.5 0 0 1-1 0V4.5" fill="none" stroke="currentColor" stroke-width="1.2" stroke-linecap="round"/></svg>`;

export function messageRow(m: MessageSummary, folder: string, role: ListView['role']): Html {
  const seen = m.flags.includes('\\Seen');
  const flagged = m.flags.includes('\\Flagged');
  const answered = m.flags.includes('\\Answered');
  const people = role === 'sent' || role === 'drafts' ? `To: ${displayName(m.to)}` : displayName(m.from);
  const href = role === 'drafts' ? urls.compose('draft', folder, m.uid) : urls.read(folder, m.uid);
  return html`<tr class="msg${seen ? '' : ' unread'}${flagged ? ' flagged' : ''}" data-uid="${m.uid}">
<td class="sel"><input type="checkbox" name="uid" value="${m.uid}" aria-label="Select"></td>
<td class="flag" title="${flagged ? 'Flagged' : ''}">${flagged ? '★' : ''}${answered ? html`<span class="answered" title="Answered">↩</span>` : ''}</td>
<td class="from">${people}</td>
<td class="subject"><a href="${href}">${m.subject || '(no subject)'}</a></td>
<td class="att">${m.hasAttachment ? PAPERCLIP : ''}</td>
<td class="date">${timeTag(m.date)}</td>
<td class="size">${size(m.size)}</td>
</tr>`;
}

export function messageRows(messages: MessageSummary[], folder: string, role: ListView['role']): Html {
  return html`${messages.map((m) => messageRow(m, folder, role))}`;
}

function pager(v: ListView): Html {
  const { page, total, pageSize } = v.page;
  const first = total === 0 ? 0 : page * pageSize + 1;
  const last = Math.min(total, (page + 1) * pageSize);
  const link = (p: number): string => (v.search ? urls.search(v.page.folder, v.search.query, v.search.by, p) : urls.list(v.page.folder, p));
  return html`<nav class="pager" aria-label="Pages">
<span class="range">${total === 0 ? '' : `${first.toLocaleString('en-US')}–${last.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`}</span>
${page > 0 ? html`<a href="${link(page - 1)}" rel="prev" class="button">‹ Newer</a>` : ''}
${last < total ? html`<a href="${link(page + 1)}" rel="next" class="button">Older ›</a>` : ''}
</nav>`;
}

export function moveSelect(folders: Folder[], current: string, name = 'to'): Html {
  return html`<select name="${name}" aria-label="Move to folder"><option value="" selected disabled>Move to…</option>${folders
    .filter((f) => f.selectable && f.path !== current)
    .map((f) => html`<option value="${f.path}">${'  '.repeat(f.depth)}${plainName(f.name)}</option>`)}</select>`;
}

export function messageList(v: ListView): Html {
  const folderPath = v.page.folder;
  const name = isolatedName(v.folder?.name ?? folderPath);
  const heading = v.search ? html`Search in ${name}: “${v.search.query}”` : html`${name}`;
  const empty = v.search ? 'Nothing matches.' : 'This folder is empty.';
  return html`<section class="list">
<div class="list-head">
<h1>${heading}</h1>
${v.search ? html`<p class="count">${plural(v.page.total, 'message')} found · <a href="${urls.list(folderPath)}">back to ${name}</a></p>` : ''}
</div>
<form method="post" action="/act" id="list-form">
<input type="hidden" name="_csrf" value="${v.csrf}">
<input type="hidden" name="f" value="${folderPath}">
<input type="hidden" name="back" value="${v.returnTo}">
<div class="toolbar">
<label class="all"><input type="checkbox" id="select-all" aria-label="Select all"></label>
<button name="op" value="seen">Mark read</button>
<button name="op" value="unseen">Mark unread</button>
<button name="op" value="flag">Flag</button>
<button name="op" value="unflag">Unflag</button>
<span class="move">${moveSelect(v.folders, folderPath)}<button name="op" value="move">Move</button></span>
<button name="op" value="delete" class="danger">${v.role === 'trash' ? 'Delete forever' : 'Delete'}</button>
${v.role === 'trash' && !v.search ? html`<button name="op" value="empty" class="danger" data-confirm="Delete every message in ${name} for good?">Empty ${name}</button>` : ''}
</div>
<table class="messages" id="messages" data-folder="${folderPath}" data-role="${v.role}" data-top-uid="${v.page.messages[0]?.uid ?? 0}" data-live="${!v.search && v.page.page === 0 ? '1' : '0'}">
<thead><tr><th class="sel"></th><th class="flag"></th><th class="from">${v.role === 'sent' || v.role === 'drafts' ? 'To' : 'From'}</th><th class="subject">Subject</th><th class="att"></th><th class="date">Date</th><th class="size">Size</th></tr></thead>
<tbody>${messageRows(v.page.messages, folderPath, v.role)}</tbody>
</table>
${v.page.messages.length === 0 ? html`<p class="empty" id="empty">${empty}</p>` : ''}
</form>
${pager(v)}
</section>`;
}
