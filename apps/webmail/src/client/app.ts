/**
 * The page script: everything works without it; it adds live updates (server-sent events fed by
 * IMAP IDLE), keyboard shortcuts, local times, frame sizing, address completion and a size check
 * before uploading. It never stores anything in the browser and never builds markup from message
 * data: rows and folder lists come as HTML the server already escaped.
 */

const body = document.body;

function $(sel: string, root: ParentNode = document): HTMLElement | null {
  return root.querySelector<HTMLElement>(sel);
}

// ---- local times -------------------------------------------------------------------------
function localTimes(root: ParentNode = document): void {
  const now = new Date();
  for (const t of root.querySelectorAll<HTMLTimeElement>('time[datetime]')) {
    const d = new Date(t.dateTime);
    if (Number.isNaN(d.getTime())) continue;
    t.title = d.toLocaleString();
    if (t.dataset['format'] === 'long') t.textContent = d.toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' });
    else if (d.toDateString() === now.toDateString()) t.textContent = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    else if (d.getFullYear() === now.getFullYear()) t.textContent = d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
    else t.textContent = d.toLocaleDateString();
  }
}

// ---- toast -------------------------------------------------------------------------------
let toastTimer: number | undefined;
function toast(text: string): void {
  const el = $('#toast');
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (el.hidden = true), 6000);
}

// ---- message list: selection, confirm, keys ----------------------------------------------
function rows(): HTMLTableRowElement[] {
  return [...document.querySelectorAll<HTMLTableRowElement>('#messages tbody tr.msg')];
}

let cursor = -1;
function moveCursor(delta: number): void {
  const list = rows();
  if (list.length === 0) return;
  list[cursor]?.classList.remove('cursor');
  cursor = Math.max(0, Math.min(list.length - 1, cursor + delta));
  const row = list[cursor]!;
  row.classList.add('cursor');
  row.scrollIntoView({ block: 'nearest' });
}

function setupList(): void {
  const all = $('#select-all') as HTMLInputElement | null;
  all?.addEventListener('change', () => {
    for (const box of document.querySelectorAll<HTMLInputElement>('#messages input[name="uid"]')) box.checked = all.checked;
  });
  for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-confirm]')) {
    button.addEventListener('click', (e) => {
      if (!window.confirm(button.dataset['confirm'] ?? 'Sure?')) e.preventDefault();
    });
  }
  // A click anywhere on a row opens it (the subject link stays the real target).
  $('#messages')?.addEventListener('click', (e) => {
    const target = e.target as HTMLElement;
    if (target.closest('a, input, button, label')) return;
    const link = target.closest('tr')?.querySelector<HTMLAnchorElement>('td.subject a');
    if (link) window.location.href = link.href;
  });
}

function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement;
  return t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName);
}

function submitListAction(op: string): void {
  const form = $('#list-form') as HTMLFormElement | null;
  const list = rows();
  if (!form) return;
  const checked = form.querySelectorAll('input[name="uid"]:checked');
  if (checked.length === 0 && list[cursor]) (list[cursor]!.querySelector('input[name="uid"]') as HTMLInputElement).checked = true;
  const button = form.querySelector<HTMLButtonElement>(`button[name="op"][value="${op}"]`);
  button?.click();
}

function setupKeys(): void {
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
    const keyed = document.querySelector<HTMLElement>(`[data-key="${CSS.escape(e.key)}"]`);
    switch (e.key) {
      case 'j':
        moveCursor(1);
        break;
      case 'k':
        moveCursor(-1);
        break;
      case 'Enter':
      case 'o': {
        const link = rows()[cursor]?.querySelector<HTMLAnchorElement>('td.subject a');
        if (link) window.location.href = link.href;
        else return;
        break;
      }
      case 'x': {
        const box = rows()[cursor]?.querySelector<HTMLInputElement>('input[name="uid"]');
        if (box) box.checked = !box.checked;
        break;
      }
      case 'c':
        window.location.href = '/compose';
        break;
      case '/':
        $('#search-q')?.focus();
        break;
      case '#':
      case 'Delete':
        if (keyed) keyed.click();
        else submitListAction('delete');
        break;
      case '?':
        toast('Keys: j/k move · o open · x select · c compose · r reply · a reply all · f forward · # delete · u back · / search');
        break;
      default:
        if (!keyed) return;
        keyed.click();
    }
    e.preventDefault();
  });
}

// ---- live updates --------------------------------------------------------------------------
function watchedFolder(): string {
  return $('#messages')?.dataset['folder'] ?? ($('article.message') as HTMLElement | null)?.dataset['folder'] ?? 'INBOX';
}

/** Set when a form on the page is being submitted: the page is on its way elsewhere. */
let leaving = false;
window.addEventListener('submit', (e) => {
  // bubbling reaches the window last, after a form's own handler could prevent the submission
  if (!e.defaultPrevented) leaving = true;
});

async function fetchNewer(folder: string): Promise<void> {
  const table = $('#messages');
  const after = Number(table?.dataset['topUid'] ?? body.dataset['topUid'] ?? '0') || 0;
  const r = await fetch(`/newer?f=${encodeURIComponent(folder)}&after=${after}`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (r.status === 401) {
    // After "Log out" the session is gone before this answer: going to "session ended" now
    // would cancel the navigation to "logged out" (found as a flaky test).
    if (!leaving) window.location.href = '/login?expired=1';
    return;
  }
  if (!r.ok) return;
  const data = (await r.json()) as { rows: string; topUid: number; count: number; newest: { subject: string; from: string } | null; folders: string };
  const nav = $('#folders');
  if (nav) nav.outerHTML = data.folders;
  if (data.count === 0) return;
  if (table && table.dataset['live'] === '1') {
    const tbody = table.querySelector('tbody')!;
    const tmp = document.createElement('tbody');
    tmp.innerHTML = data.rows; // server-escaped rows
    localTimes(tmp);
    for (const row of [...tmp.children].reverse()) {
      const uid = (row as HTMLElement).dataset['uid'];
      if (uid && tbody.querySelector(`tr[data-uid="${CSS.escape(uid)}"]`)) continue;
      row.classList.add('new');
      tbody.prepend(row);
    }
    table.dataset['topUid'] = String(data.topUid);
    $('#empty')?.remove();
  } else if (!table) body.dataset['topUid'] = String(data.topUid);
  if (data.newest) toast(data.count === 1 ? `New message from ${data.newest.from}: ${data.newest.subject}` : `${data.count} new messages`);
}

function setupEvents(): void {
  if (!body.classList.contains('app') || typeof EventSource === 'undefined') return;
  const folder = watchedFolder();
  const source = new EventSource(`/events?f=${encodeURIComponent(folder)}`);
  let busy: Promise<void> = Promise.resolve();
  const refresh = (): void => {
    busy = busy.then(() => fetchNewer(folder)).catch(() => undefined);
  };
  source.addEventListener('exists', (e) => {
    const d = JSON.parse((e as MessageEvent<string>).data) as { count: number; prev: number };
    if (d.count > d.prev) refresh();
  });
  source.addEventListener('ready', (e) => {
    const d = JSON.parse((e as MessageEvent<string>).data) as { uidNext: number };
    const table = $('#messages');
    if (table)
      refresh(); // rows that arrived between rendering the page and the stream opening
    else if (!body.dataset['topUid']) body.dataset['topUid'] = String(Math.max(0, d.uidNext - 1)); // only later mail is news here
    body.dataset['live'] = 'ready';
  });
  window.addEventListener('pagehide', () => source.close());
}

// ---- reading -------------------------------------------------------------------------------
function setupFrame(): void {
  const frame = $('#mail-body') as HTMLIFrameElement | null;
  if (!frame) return;
  const fit = (): void => {
    // allow-same-origin (never with allow-scripts) lets us measure the document to size the frame.
    const doc = frame.contentDocument;
    if (!doc?.documentElement) return;
    // The root's scrollHeight is never less than the frame: shrink the frame, then measure.
    frame.style.height = '40px';
    frame.style.height = `${Math.max(120, doc.documentElement.scrollHeight + 4)}px`;
  };
  const loaded = (): void => {
    fit();
    for (const img of frame.contentDocument?.querySelectorAll('img') ?? []) img.addEventListener('load', fit);
  };
  frame.addEventListener('load', loaded);
  // The frame may have loaded before this (deferred) script ran.
  const doc = frame.contentDocument;
  if (doc && doc.readyState === 'complete' && doc.location.href !== 'about:blank') loaded();
}

// ---- composing -----------------------------------------------------------------------------
function setupCompose(): void {
  const form = $('#compose-form') as HTMLFormElement | null;
  if (!form) return;
  const limit = Number(form.dataset['limit'] ?? '0');
  const input = $('#attach') as HTMLInputElement | null;
  form.addEventListener('submit', (e) => {
    const total = [...(input?.files ?? [])].reduce((n, f) => n + f.size, 0);
    if (limit > 0 && total > limit) {
      e.preventDefault();
      toast(`The files add up to ${(total / 1048576).toFixed(1)} MB; the server takes at most ${(limit / 1048576).toFixed(1)} MB.`);
    }
  });
  let loaded = false;
  const fill = async (): Promise<void> => {
    if (loaded) return;
    loaded = true;
    const r = await fetch('/contacts', { credentials: 'same-origin' });
    if (!r.ok) return;
    const list = (await r.json()) as string[];
    const dl = $('#contacts');
    if (!dl) return;
    for (const a of list) {
      const o = document.createElement('option');
      o.value = a;
      dl.append(o);
    }
  };
  // One small request per composer (the server caches the list): ready before the first keystroke.
  void fill();
}

localTimes();
setupList();
setupKeys();
setupFrame();
setupCompose();
setupEvents();
