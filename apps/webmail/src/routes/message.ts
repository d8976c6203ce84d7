/** Reading: the message page, its sanitized HTML body (for the sandboxed frame), its parts and source. */
import { HttpError } from '../http.js';
import { trusted } from '../html.js';
import type { MessageDetail } from '../mail/account.js';
import type { PartInfo } from '../mail/structure.js';
import { frameCsp, frameDocument, sanitizeMailHtml } from '../sanitize.js';
import type { AuthedCtx, Route } from '../server.js';
import { urls } from '../urls.js';
import { readPage } from '../views/message.js';
import { authed, folderParam, page, uidParam } from './common.js';

const INLINE_IMAGE = /^image\/(png|jpeg|gif|webp)$/;
const MIME_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;

async function load(ctx: AuthedCtx): Promise<{ folder: string; uid: number; msg: MessageDetail }> {
  const folder = folderParam(ctx.url.searchParams.get('f'));
  const uid = uidParam(ctx.url.searchParams.get('u'));
  const msg = await ctx.session.resources.account.message(folder, uid);
  if (!msg) throw new HttpError(404, 'That message is not there any more (moved or deleted).');
  return { folder, uid, msg };
}

async function sanitizedBody(ctx: AuthedCtx, folder: string, msg: MessageDetail, allowRemote: boolean): Promise<{ html: string; blockedRemote: number }> {
  const part = msg.parts.html!;
  const raw = await ctx.session.resources.account.text(folder, msg.uid, part.part);
  return sanitizeMailHtml(raw, {
    allowRemote,
    cidUrl: (cid) => {
      const p = msg.parts.related.get(cid);
      return p ? urls.part(folder, msg.uid, p.part, false) : null;
    },
  });
}

function findPart(msg: MessageDetail, part: string): PartInfo | null {
  return msg.parts.attachments.find((a) => a.part === part) ?? [...msg.parts.related.values()].find((a) => a.part === part) ?? null;
}

export const messageRoutes: Route[] = [
  {
    method: 'GET',
    path: '/read',
    auth: true,
    handler: async (c) => {
      const ctx = authed(c);
      const account = ctx.session.resources.account;
      const { folder, uid, msg } = await load(ctx);
      const remoteShown = ctx.url.searchParams.get('remote') === '1';
      let text: string | null = null;
      let blockedRemote = 0;
      if (msg.parts.html) blockedRemote = (await sanitizedBody(ctx, folder, msg, false)).blockedRemote;
      else text = msg.parts.text ? await account.text(folder, uid, msg.parts.text.part) : '';
      if (!msg.flags.includes('\\Seen')) {
        await account.setFlag(folder, [uid], '\\Seen', true);
        msg.flags.push('\\Seen');
      }
      const { trash } = await account.specialFolders();
      const body = await page(ctx, msg.subject || '(no subject)', folder, (folders) =>
        readPage({
          folder,
          folderName: folders.find((f) => f.path === folder)?.name ?? folder,
          folders,
          msg,
          csrf: ctx.session.csrf,
          text,
          blockedRemote,
          remoteShown,
          isTrash: folder === trash,
        }),
      );
      return { kind: 'html', body };
    },
  },
  {
    // The HTML body, alone, for <iframe sandbox>: sanitized, with its own CSP.
    method: 'GET',
    path: '/body',
    auth: true,
    handler: async (c) => {
      const ctx = authed(c);
      const { folder, msg } = await load(ctx);
      if (!msg.parts.html) throw new HttpError(404, 'This message has no HTML part.');
      const allowRemote = ctx.url.searchParams.get('remote') === '1';
      const { html } = await sanitizedBody(ctx, folder, msg, allowRemote);
      return { kind: 'html', body: trusted(frameDocument(html)), csp: frameCsp(allowRemote), frameable: true };
    },
  },
  {
    method: 'GET',
    path: '/part',
    auth: true,
    handler: async (c) => {
      const ctx = authed(c);
      const { folder, uid, msg } = await load(ctx);
      const part = findPart(msg, ctx.url.searchParams.get('p') ?? '');
      if (!part) throw new HttpError(404, 'That attachment is not in this message.');
      const stream = await ctx.session.resources.account.download(folder, uid, part.part);
      if (!stream) throw new HttpError(404, 'That attachment is not in this message.');
      const inline = ctx.url.searchParams.get('dl') !== '1' && INLINE_IMAGE.test(part.type);
      return {
        kind: 'download',
        contentType: inline ? part.type : MIME_TYPE.test(part.type) ? part.type : 'application/octet-stream',
        filename: part.filename,
        inline,
        stream,
      };
    },
  },
  {
    method: 'GET',
    path: '/source',
    auth: true,
    handler: async (c) => {
      const ctx = authed(c);
      const { folder, uid, msg } = await load(ctx);
      const stream = await ctx.session.resources.account.download(folder, uid, null);
      if (!stream) throw new HttpError(404, 'That message is not there any more.');
      const name = (msg.subject || 'message').replace(/[^\p{L}\p{N} ._-]+/gu, '_').slice(0, 80);
      return { kind: 'download', contentType: 'message/rfc822', filename: `${name}.eml`, inline: false, stream };
    },
  },
];
