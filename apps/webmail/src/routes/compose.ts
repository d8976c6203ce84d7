/**
 * Writing: the composer (new, reply, reply-all, forward, open draft) and what its form does
 * (send, or save to Drafts). A message that cannot be sent is saved to Drafts, attachments
 * included, and the form comes back filled in with the reason in words: nothing typed is lost.
 */
import { field, fields, files, HttpError, formatBytes, type Reply } from '../http.js';
import type { MessageDetail } from '../mail/account.js';
import {
  AddressListError,
  buildMessage,
  forwardDraft,
  formatAddressList,
  newMessageId,
  parseAddressList,
  recipients,
  replyDraft,
  type Draft,
  type DraftAttachment,
} from '../mail/compose.js';
import { htmlToText } from '@postern/mime';
import { SendError, submit } from '../mail/submit.js';
import type { AuthedCtx, Route } from '../server.js';
import { intParam, urls, withDone } from '../urls.js';
import { composePage, type ComposeView, type KeptAttachment } from '../views/compose.js';
import { authed, folderParam, page, uidParam } from './common.js';

const EMPTY: Draft = { to: '', cc: '', bcc: '', subject: '', body: '', inReplyTo: '', references: '' };

async function bodyText(ctx: AuthedCtx, folder: string, msg: MessageDetail): Promise<string> {
  const account = ctx.session.resources.account;
  if (msg.parts.text) return account.text(folder, msg.uid, msg.parts.text.part);
  if (msg.parts.html) return htmlToText(await account.text(folder, msg.uid, msg.parts.html.part), undefined, 'reading');
  return '';
}

function kept(msg: MessageDetail): KeptAttachment[] {
  return msg.parts.attachments.map((a) => ({ part: a.part, filename: a.filename, type: a.type, size: a.size }));
}

async function render(ctx: AuthedCtx, v: Omit<ComposeView, 'csrf' | 'from' | 'sizeLimit'>, status = 200): Promise<Reply> {
  const body = await page(
    ctx,
    v.draft.subject || 'New message',
    null,
    () => composePage({ ...v, csrf: ctx.session.csrf, from: ctx.session.user, sizeLimit: ctx.state.config.limits.message_size }),
    { flash: null },
  );
  return { kind: 'html', status, body };
}

/** A draft with only the addresses that parse, so that it can always be saved. */
function lenient(d: Draft): Draft {
  const keep = (text: string, name: string): string => {
    const good: string[] = [];
    for (const part of text.split(/[,;]/)) {
      try {
        good.push(formatAddressList(parseAddressList(part, name)));
      } catch {
        // the form keeps what was typed; the saved draft keeps what is an address
      }
    }
    return good.filter((g) => g !== '').join(', ');
  };
  return { ...d, to: keep(d.to, 'To'), cc: keep(d.cc, 'Cc'), bcc: keep(d.bcc, 'Bcc') };
}

export const composeRoutes: Route[] = [
  {
    method: 'GET',
    path: '/compose',
    auth: true,
    handler: async (c) => {
      const ctx = authed(c);
      const account = ctx.session.resources.account;
      const q = ctx.url.searchParams;
      const mode = q.get('mode');
      const done = q.get('done') === 'saved' ? 'Draft saved.' : null;
      if (!mode) return render(ctx, { draft: EMPTY, kept: [], source: null, draftUid: null, answering: null, error: null, notice: done });
      const folder = folderParam(q.get('f'));
      const uid = uidParam(q.get('u'));
      const msg = await account.message(folder, uid);
      if (!msg) throw new HttpError(404, 'That message is not there any more.');
      const text = await bodyText(ctx, folder, msg);
      switch (mode) {
        case 'reply':
        case 'all':
          return render(ctx, {
            draft: replyDraft(msg, text, mode === 'all', ctx.session.user),
            kept: [],
            source: null,
            draftUid: null,
            answering: { folder, uid },
            error: null,
            notice: null,
          });
        case 'fwd':
          return render(ctx, {
            draft: forwardDraft(msg, text),
            kept: kept(msg),
            source: { folder, uid },
            draftUid: null,
            answering: null,
            error: null,
            notice: null,
          });
        case 'draft': {
          const { drafts } = await account.specialFolders();
          return render(ctx, {
            draft: {
              to: formatAddressList(msg.to),
              cc: formatAddressList(msg.cc),
              bcc: formatAddressList(msg.bcc),
              subject: msg.subject,
              body: text.replace(/\r\n/g, '\n'),
              inReplyTo: msg.inReplyTo,
              references: msg.references,
            },
            kept: kept(msg),
            source: { folder, uid },
            draftUid: folder === drafts ? uid : null,
            answering: null,
            error: null,
            notice: done,
          });
        }
        default:
          throw new HttpError(400, 'Unknown way to compose.');
      }
    },
  },
  {
    method: 'POST',
    path: '/compose',
    auth: true,
    csrf: 'session',
    body: 'upload',
    handler: async (c) => {
      const ctx = authed(c);
      const { state, session } = ctx;
      const account = session.resources.account;
      const form = ctx.form!;
      const limit = state.config.limits.message_size;
      const draft: Draft = {
        to: field(form, 'to').trim(),
        cc: field(form, 'cc').trim(),
        bcc: field(form, 'bcc').trim(),
        subject: field(form, 'subject')
          .replace(/[\r\n]+/g, ' ')
          .slice(0, 998),
        body: field(form, 'body').replace(/\r\n/g, '\n'),
        inReplyTo: field(form, 'in_reply_to').trim(),
        references: field(form, 'references').trim(),
      };
      const oldDraft = intParam(field(form, 'draft_u'));
      const answering =
        field(form, 'orig_f') && intParam(field(form, 'orig_u')) ? { folder: field(form, 'orig_f'), uid: intParam(field(form, 'orig_u'))! } : null;
      const { drafts, sent } = await account.specialFolders();

      // Attachments: those kept from the source message (forward, draft) and new uploads.
      const attachments: DraftAttachment[] = [];
      const srcFolder = field(form, 'src_f');
      const srcUid = intParam(field(form, 'src_u'));
      const keep = new Set(fields(form, 'keep'));
      if (srcFolder && srcUid && keep.size > 0) {
        const src = await account.message(folderParam(srcFolder), srcUid);
        for (const a of src?.parts.attachments ?? []) {
          if (!keep.has(a.part)) continue;
          const content = await account.partBytes(srcFolder, srcUid, a.part, limit);
          if (content) attachments.push({ filename: a.filename, contentType: a.type, content });
        }
      }
      for (const f of files(form, 'attach')) {
        attachments.push({ filename: f.name, contentType: f.type || 'application/octet-stream', content: Buffer.from(await f.arrayBuffer()) });
      }

      const messageId = newMessageId(session.user);
      const date = new Date();
      const build = (d: Draft, keepBcc: boolean): Promise<Buffer> => buildMessage(d, { from: session.user, messageId, date, keepBcc, attachments });

      /** Stores the draft; returns its UID (when the server says) and what had to be left out. */
      const saveDraft = async (): Promise<{ uid: number | null; dropped: string[] }> => {
        const store = async (files: DraftAttachment[]): Promise<number | null> =>
          account.append(drafts, await buildMessage(lenient(draft), { from: session.user, messageId, date, keepBcc: true, attachments: files }), [
            '\\Draft',
            '\\Seen',
          ]);
        let uid: number | null;
        let dropped: string[] = [];
        try {
          uid = await store(attachments);
        } catch (err) {
          // The server keeps no message above its size limit, drafts included: keep the text.
          if (attachments.length === 0) throw err;
          state.logger.info({ err: (err as Error).message, user: session.user }, 'draft too big to store with its attachments');
          uid = await store([]);
          dropped = attachments.map((a) => a.filename);
        }
        if (oldDraft) await account.delete(drafts, [oldDraft], true).catch(() => undefined);
        return { uid, dropped };
      };

      /** Back to the form, filled in, with the reason; the draft (and its attachments) kept in Drafts. */
      const refused = async (reason: string): Promise<Reply> => {
        let saved: MessageDetail | null = null;
        let notice: string | null = null;
        try {
          const r = await saveDraft();
          saved = r.uid ? await account.message(drafts, r.uid) : null;
          notice =
            r.dropped.length > 0
              ? `Your message is saved in Drafts, but without ${r.dropped.join(', ')}: the server does not keep a message that big.`
              : 'Your message is saved in Drafts, attachments included.';
        } catch (err) {
          state.logger.warn({ err: (err as Error).message, user: session.user }, 'could not save draft after a failed send');
        }
        return render(
          ctx,
          {
            draft,
            kept: saved ? kept(saved) : [],
            source: saved ? { folder: drafts, uid: saved.uid } : srcFolder && srcUid ? { folder: srcFolder, uid: srcUid } : null,
            draftUid: saved ? saved.uid : oldDraft,
            answering,
            error: reason,
            notice,
          },
          422,
        );
      };

      if (field(form, 'action') === 'save') {
        const { uid, dropped } = await saveDraft();
        if (dropped.length === 0) return { kind: 'redirect', location: withDone(uid ? urls.compose('draft', drafts, uid) : urls.list(drafts), 'saved') };
        const saved = uid ? await account.message(drafts, uid) : null;
        return render(
          ctx,
          {
            draft,
            kept: saved ? kept(saved) : [],
            source: saved ? { folder: drafts, uid: saved.uid } : null,
            draftUid: saved ? saved.uid : null,
            answering,
            error: `Saved in Drafts, but without ${dropped.join(', ')}: the server does not keep a message that big.`,
            notice: null,
          },
          422,
        );
      }

      let to: string[];
      try {
        to = recipients(draft);
      } catch (err) {
        if (err instanceof AddressListError) return refused(`${err.message}. Correct it and send again.`);
        throw err;
      }
      if (to.length === 0) return refused('Add at least one recipient.');
      const total = attachments.reduce((n, a) => n + a.content.length, 0);
      if (total > limit) return refused(`The attachments add up to ${formatBytes(total)}; the server takes at most ${formatBytes(limit)} per message.`);

      const wire = await build(draft, false);
      let result: Awaited<ReturnType<typeof submit>>;
      try {
        result = await submit(state.smtp, session.user, session.password, session.user, to, wire);
      } catch (err) {
        if (err instanceof SendError) {
          state.logger.info({ user: session.user, reason: err.message }, 'webmail send refused');
          return refused(err.message);
        }
        throw err;
      }
      state.logger.info({ user: session.user, messageId, recipients: result.accepted.length }, 'webmail message sent');
      // RFC 6409 §3.2 leaves the Sent copy to the client: store what was sent (with Bcc).
      await account
        .append(sent, await build(draft, true), ['\\Seen'])
        .catch((err: Error) => state.logger.warn({ err: err.message }, 'could not store the Sent copy'));
      if (oldDraft) await account.delete(drafts, [oldDraft], true).catch(() => undefined);
      if (answering) await account.setFlag(answering.folder, [answering.uid], '\\Answered', true).catch(() => undefined);
      if (result.refused.length > 0) {
        const who = result.refused.map((r) => `${r.address} (${r.reason})`).join('; ');
        return render(
          ctx,
          {
            draft: { ...draft, to: result.refused.map((r) => r.address).join(', '), cc: '', bcc: '' },
            kept: [],
            source: null,
            draftUid: null,
            answering: null,
            error: `Sent to ${result.accepted.join(', ')}, but the mail server refused ${who}. Correct the address below to send it again.`,
            notice: null,
          },
          422,
        );
      }
      return { kind: 'redirect', location: withDone(urls.list('INBOX'), 'sent') };
    },
  },
];
