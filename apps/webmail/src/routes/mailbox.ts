/** Folder pages and bulk actions: list (paged), search, mark, flag, move, delete, empty. */
import { field, fields, HttpError, safeReturnPath } from '../http.js';
import { plainName } from '../html.js';
import type { SearchField } from '../mail/account.js';
import type { Route } from '../server.js';
import { intParam, urls, withDone } from '../urls.js';
import { messageList, messageRows } from '../views/list.js';
import { folderNav } from '../views/layout.js';
import { authed, folderParam, page, pageParam, roleOf } from './common.js';

const SEARCH_FIELDS = new Set<SearchField>(['all', 'from', 'subject', 'text']);

export const mailboxRoutes: Route[] = [
  {
    method: 'GET',
    path: '/list',
    auth: true,
    handler: async (c) => {
      const ctx = authed(c);
      const account = ctx.session.resources.account;
      const folder = folderParam(ctx.url.searchParams.get('f'), 'INBOX');
      const p = pageParam(ctx.url.searchParams.get('p'));
      const special = await account.specialFolders();
      const result = await account.page(folder, p);
      const body = await page(ctx, folder.toUpperCase() === 'INBOX' ? 'Inbox' : plainName(folder), folder, (folders) =>
        messageList({
          page: result,
          folder: folders.find((f) => f.path === folder) ?? null,
          folders,
          csrf: ctx.session.csrf,
          role: roleOf(folder, special),
          returnTo: urls.list(folder, p),
        }),
      );
      return { kind: 'html', body };
    },
  },
  {
    method: 'GET',
    path: '/search',
    auth: true,
    handler: async (c) => {
      const ctx = authed(c);
      const account = ctx.session.resources.account;
      const q = ctx.url.searchParams;
      const folder = folderParam(q.get('f'), 'INBOX');
      const query = (q.get('q') ?? '').trim().slice(0, 200);
      const by = (SEARCH_FIELDS.has(q.get('by') as SearchField) ? q.get('by') : 'all') as SearchField;
      if (query === '') return { kind: 'redirect', location: urls.list(folder) };
      const p = pageParam(q.get('p'));
      const special = await account.specialFolders();
      const result = await account.search(folder, query, by, p);
      const body = await page(
        ctx,
        `Search: ${query}`,
        folder,
        (folders) =>
          messageList({
            page: result,
            folder: folders.find((f) => f.path === folder) ?? null,
            folders,
            csrf: ctx.session.csrf,
            search: { query, by },
            role: roleOf(folder, special),
            returnTo: urls.search(folder, query, by, p),
          }),
        { search: { query, by } },
      );
      return { kind: 'html', body };
    },
  },
  {
    // Rows newer than a UID and the folder list: what the page fetches when IDLE says "new mail".
    method: 'GET',
    path: '/newer',
    auth: true,
    api: true,
    handler: async (c) => {
      const ctx = authed(c);
      const account = ctx.session.resources.account;
      const folder = folderParam(ctx.url.searchParams.get('f'), 'INBOX');
      const after = intParam(ctx.url.searchParams.get('after')) ?? 0;
      const special = await account.specialFolders();
      const messages = await account.newerThan(folder, after);
      const folders = await account.folders();
      return {
        kind: 'json',
        body: {
          rows: messageRows(messages, folder, roleOf(folder, special)).value,
          topUid: messages[0]?.uid ?? after,
          count: messages.length,
          newest: messages[0] ? { subject: messages[0].subject, from: messages[0].from[0]?.name || messages[0].from[0]?.address || '' } : null,
          folders: folderNav(folders, folder).value,
        },
      };
    },
  },
  {
    method: 'POST',
    path: '/act',
    auth: true,
    csrf: 'session',
    handler: async (c) => {
      const ctx = authed(c);
      const account = ctx.session.resources.account;
      const form = ctx.form!;
      const folder = folderParam(field(form, 'f'));
      const op = field(form, 'op');
      const uids = fields(form, 'uid')
        .map((u) => intParam(u))
        .filter((u): u is number => u !== null);
      const back = safeReturnPath(ctx.url.searchParams.get('back') ?? field(form, 'back'), urls.list(folder));
      if (op !== 'empty' && uids.length === 0) return { kind: 'redirect', location: back };
      switch (op) {
        case 'seen':
        case 'unseen':
          await account.setFlag(folder, uids, '\\Seen', op === 'seen');
          return { kind: 'redirect', location: back };
        case 'flag':
        case 'unflag':
          await account.setFlag(folder, uids, '\\Flagged', op === 'flag');
          return { kind: 'redirect', location: back };
        case 'move': {
          if (field(form, 'to') === '') throw new HttpError(400, 'Choose the folder to move to, then press Move.');
          const to = folderParam(field(form, 'to'));
          await account.move(folder, uids, to);
          return { kind: 'redirect', location: withDone(urls.list(folder), 'moved') };
        }
        case 'delete':
          await account.delete(folder, uids);
          return { kind: 'redirect', location: withDone(urls.list(folder), 'deleted') };
        case 'empty': {
          const { trash } = await account.specialFolders();
          if (folder !== trash) throw new HttpError(400, 'Only the Trash can be emptied.');
          await account.empty(folder);
          return { kind: 'redirect', location: withDone(urls.list(folder), 'emptied') };
        }
        default:
          throw new HttpError(400, 'Choose an action.');
      }
    },
  },
  {
    method: 'GET',
    path: '/contacts',
    auth: true,
    api: true,
    handler: async (c) => {
      const ctx = authed(c);
      const r = ctx.session.resources;
      // A minute's cache: composing several messages in a row asks the server once.
      if (!r.contacts || r.contacts.list.length === 0 || Date.now() - r.contacts.at > 60_000) {
        r.contacts = { at: Date.now(), list: await r.account.correspondents() };
      }
      return { kind: 'json', body: r.contacts.list.map((a) => (a.name ? `${a.name} <${a.address}>` : a.address)) };
    },
  },
];
