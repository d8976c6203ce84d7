/** Reading one message: headers, actions, the body (text inline, HTML in a sandboxed frame), attachments. */
import { html, isolatedName, plainName, type Html } from '../html.js';
import type { Folder, MessageDetail } from '../mail/account.js';
import { urls } from '../urls.js';
import { addressList, size, timeTag } from './format.js';
import { moveSelect } from './list.js';

export interface ReadView {
  folder: string;
  folderName: string;
  folders: Folder[];
  msg: MessageDetail;
  csrf: string;
  /** Plain text shown when the message has no HTML (null: HTML is shown in the frame). */
  text: string | null;
  blockedRemote: number;
  remoteShown: boolean;
  isTrash: boolean;
}

/** Plain text with its URLs made into links (opened outside the page). */
export function linkify(text: string): Html {
  const parts: Html[] = [];
  const re = /\bhttps?:\/\/[^\s<>"')\]]+/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    parts.push(html`${text.slice(last, m.index)}`);
    parts.push(html`<a href="${m[0]}" target="_blank" rel="noopener noreferrer">${m[0]}</a>`);
    last = m.index + m[0].length;
  }
  parts.push(html`${text.slice(last)}`);
  return html`${parts}`;
}

/** ENVELOPE fills Reply-To with From when the header is absent (RFC 9051 §7.5.2): show it only when it says more. */
function replyToDiffers(m: MessageDetail): boolean {
  const key = (list: MessageDetail['from']): string =>
    list
      .map((a) => a.address.toLowerCase())
      .sort()
      .join(',');
  return m.replyTo.length > 0 && key(m.replyTo) !== key(m.from);
}

export function readPage(v: ReadView): Html {
  const m = v.msg;
  const flagged = m.flags.includes('\\Flagged');
  const body =
    v.text !== null
      ? html`<pre class="plain" id="plain-body">${linkify(v.text)}</pre>`
      : html`<iframe class="mail-body" id="mail-body" title="Message" src="${urls.body(v.folder, m.uid, v.remoteShown)}" sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer"></iframe>`;
  return html`<article class="message" data-uid="${m.uid}" data-folder="${v.folder}">
<nav class="actions" aria-label="Message actions">
<a class="button" href="${urls.list(v.folder)}" accesskey="u" data-key="u" title="Back to ${plainName(v.folderName)} (u)">‹ ${isolatedName(v.folderName)}</a>
<a class="button" href="${urls.compose('reply', v.folder, m.uid)}" data-key="r" id="reply" title="Reply (r)">Reply</a>
<a class="button" href="${urls.compose('all', v.folder, m.uid)}" data-key="a" id="reply-all" title="Reply all (a)">Reply all</a>
<a class="button" href="${urls.compose('fwd', v.folder, m.uid)}" data-key="f" id="forward" title="Forward (f)">Forward</a>
<form method="post" action="/act" class="inline">
<input type="hidden" name="_csrf" value="${v.csrf}"><input type="hidden" name="f" value="${v.folder}"><input type="hidden" name="uid" value="${m.uid}">
<input type="hidden" name="back" value="${urls.list(v.folder)}">
<button name="op" value="unseen">Mark unread</button>
<button name="op" value="${flagged ? 'unflag' : 'flag'}" formaction="/act?back=${encodeURIComponent(urls.read(v.folder, m.uid))}" id="flag">${flagged ? 'Unflag' : 'Flag'}</button>
<span class="move">${moveSelect(v.folders, v.folder)}<button name="op" value="move" id="move">Move</button></span>
<button name="op" value="delete" class="danger" data-key="#" id="delete" title="Delete (#)">${v.isTrash ? 'Delete forever' : 'Delete'}</button>
</form>
</nav>
<header class="headers">
<h1 id="subject">${m.subject || '(no subject)'}</h1>
<dl>
<dt>From</dt><dd id="from">${addressList(m.from)}</dd>
${replyToDiffers(m) ? html`<dt>Reply-To</dt><dd>${addressList(m.replyTo)}</dd>` : ''}
<dt>To</dt><dd id="to">${addressList(m.to)}</dd>
${m.cc.length > 0 ? html`<dt>Cc</dt><dd id="cc">${addressList(m.cc)}</dd>` : ''}
${m.bcc.length > 0 ? html`<dt>Bcc</dt><dd>${addressList(m.bcc)}</dd>` : ''}
<dt>Date</dt><dd>${timeTag(m.date, true)}</dd>
</dl>
</header>
${
  v.blockedRemote > 0 && !v.remoteShown
    ? html`<p class="notice" id="remote-notice">${v.blockedRemote} remote image${v.blockedRemote === 1 ? ' was' : 's were'} blocked to protect your privacy. <a href="${urls.read(v.folder, m.uid, true)}" id="show-remote">Show images</a></p>`
    : ''
}
<div class="body">${body}</div>
${
  m.parts.attachments.length > 0
    ? html`<section class="attachments" aria-label="Attachments"><h2>${m.parts.attachments.length} attachment${m.parts.attachments.length === 1 ? '' : 's'}</h2><ul>${m.parts.attachments.map(
        (a) =>
          html`<li><a href="${urls.part(v.folder, m.uid, a.part, true)}" download="${plainName(a.filename)}" class="attachment">${isolatedName(a.filename)}</a> <span class="meta">${a.type}, ${size(a.size)}</span>${
            /^image\/(png|jpeg|gif|webp)$/.test(a.type)
              ? html` <a href="${urls.part(v.folder, m.uid, a.part, false)}" target="_blank" rel="noopener">view</a>`
              : ''
          }</li>`,
      )}</ul></section>`
    : ''
}
<p class="source"><a href="${urls.source(v.folder, m.uid)}">Download original (.eml)</a></p>
</article>`;
}
