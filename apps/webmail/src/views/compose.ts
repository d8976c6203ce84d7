/** The composer: one form, sent as multipart/form-data, that works without the page script. */
import { html, isolatedName, type Html } from '../html.js';
import type { Draft } from '../mail/compose.js';
import { size } from './format.js';

export interface KeptAttachment {
  part: string;
  filename: string;
  type: string;
  size: number;
}

export interface ComposeView {
  csrf: string;
  from: string;
  draft: Draft;
  /** Attachments carried over from `source` (a forwarded message or the saved draft). */
  kept: KeptAttachment[];
  source: { folder: string; uid: number } | null;
  /** The draft in Drafts this form replaces when saved or sent. */
  draftUid: number | null;
  /** The message being answered (marked \Answered once sent). */
  answering: { folder: string; uid: number } | null;
  error: string | null;
  notice: string | null;
  sizeLimit: number;
}

export function composePage(v: ComposeView): Html {
  const d = v.draft;
  return html`<section class="compose">
<h1>${d.subject ? d.subject : 'New message'}</h1>
${v.error ? html`<p class="flash error" role="alert" id="send-error">${v.error}</p>` : ''}
${v.notice ? html`<p class="flash ok" role="status" id="compose-notice">${v.notice}</p>` : ''}
<form method="post" action="/compose" enctype="multipart/form-data" id="compose-form" data-limit="${v.sizeLimit}">
<input type="hidden" name="_csrf" value="${v.csrf}">
<input type="hidden" name="in_reply_to" value="${d.inReplyTo}">
<input type="hidden" name="references" value="${d.references}">
${v.source ? html`<input type="hidden" name="src_f" value="${v.source.folder}"><input type="hidden" name="src_u" value="${v.source.uid}">` : ''}
${v.draftUid ? html`<input type="hidden" name="draft_u" value="${v.draftUid}">` : ''}
${v.answering ? html`<input type="hidden" name="orig_f" value="${v.answering.folder}"><input type="hidden" name="orig_u" value="${v.answering.uid}">` : ''}
<div class="fields">
<label><span>From</span><input type="text" value="${v.from}" readonly tabindex="-1"></label>
<label><span>To</span><input type="text" name="to" value="${d.to}" list="contacts" autocomplete="off" ${d.to ? '' : 'autofocus'} id="to"></label>
<label><span>Cc</span><input type="text" name="cc" value="${d.cc}" list="contacts" autocomplete="off" id="cc"></label>
<label><span>Bcc</span><input type="text" name="bcc" value="${d.bcc}" list="contacts" autocomplete="off" id="bcc"></label>
<label><span>Subject</span><input type="text" name="subject" value="${d.subject}" id="subject-input" maxlength="998"></label>
</div>
<textarea name="body" rows="18" id="body" aria-label="Message text" ${d.to ? 'autofocus' : ''}>
${d.body}</textarea>
<div class="attach">
${
  v.kept.length > 0
    ? html`<ul class="kept">${v.kept.map(
        (a) =>
          html`<li><label><input type="checkbox" name="keep" value="${a.part}" checked> ${isolatedName(a.filename)} <span class="meta">${size(a.size)}</span></label></li>`,
      )}</ul>`
    : ''
}
<label class="files">Attach files <input type="file" name="attach" multiple id="attach"></label>
<span class="meta">Up to ${size(v.sizeLimit)} in all.</span>
</div>
<div class="send-bar">
<button type="submit" name="action" value="send" class="primary" id="send">Send</button>
<button type="submit" name="action" value="save" id="save-draft">Save draft</button>
<a href="/" class="button link">Cancel</a>
</div>
</form>
</section>`;
}
