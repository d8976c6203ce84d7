/** What the mail routes share: the logged-in session, query values, the page shell. */
import { HttpError } from '../http.js';
import type { Html } from '../html.js';
import type { Folder, SpecialFolders } from '../mail/account.js';
import type { AuthedCtx, Ctx } from '../server.js';
import { intParam } from '../urls.js';
import { shell, type Flash } from '../views/layout.js';
import type { ListView } from '../views/list.js';

export function authed(ctx: Ctx): AuthedCtx {
  if (!ctx.session) throw new HttpError(401, 'Log in first.');
  return ctx as AuthedCtx;
}

/** A folder name from the query or the form: present, not absurdly long, no control characters. */
export function folderParam(value: string | null | undefined, fallback?: string): string {
  const v = value ?? fallback ?? '';
  if (v === '' || v.length > 1000 || /[\x00-\x1f\x7f]/.test(v)) throw new HttpError(400, 'No such folder.');
  return v;
}

export function uidParam(value: string | null | undefined): number {
  const n = intParam(value ?? null);
  if (n === null) throw new HttpError(400, 'No such message.');
  return n;
}

export function pageParam(value: string | null): number {
  if (value === null || !/^\d{1,7}$/.test(value)) return 0;
  return Number(value);
}

export function roleOf(folder: string, special: SpecialFolders): ListView['role'] {
  if (folder.toUpperCase() === 'INBOX') return 'inbox';
  if (folder === special.sent) return 'sent';
  if (folder === special.drafts) return 'drafts';
  if (folder === special.trash) return 'trash';
  return 'other';
}

/** Fixed texts for `?done=...` after a redirect: nothing from the URL is shown as is. */
const DONE: Record<string, Flash> = {
  sent: { kind: 'ok', text: 'Your message was sent.' },
  saved: { kind: 'ok', text: 'Draft saved.' },
  moved: { kind: 'ok', text: 'Moved.' },
  deleted: { kind: 'ok', text: 'Deleted.' },
  emptied: { kind: 'ok', text: 'The folder is empty now.' },
  flagged: { kind: 'ok', text: 'Done.' },
};

export function flashOf(ctx: Ctx): Flash | null {
  return DONE[ctx.url.searchParams.get('done') ?? ''] ?? null;
}

export async function page(
  ctx: AuthedCtx,
  title: string,
  current: string | null,
  content: (folders: Folder[]) => Promise<Html> | Html,
  extra: { flash?: Flash | null; search?: { query: string; by: string }; data?: Record<string, string> } = {},
): Promise<Html> {
  const folders = await ctx.session.resources.account.folders();
  const body = await content(folders);
  return shell(
    {
      title,
      user: ctx.session.user,
      csrf: ctx.session.csrf,
      folders,
      current,
      settings: ctx.state.local !== null,
      flash: extra.flash === undefined ? flashOf(ctx) : extra.flash,
      ...(extra.search ? { search: extra.search } : {}),
      ...(extra.data ? { data: extra.data } : {}),
    },
    body,
  );
}
