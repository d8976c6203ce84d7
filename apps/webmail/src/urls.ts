/** Every URL of the webmail, made in one place (folder names and UIDs travel as query values). */
const q = (params: Record<string, string | number | boolean | undefined>): string => {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== false && v !== '')
    .map(([k, v]) => `${k}=${encodeURIComponent(v === true ? '1' : String(v))}`);
  return parts.length > 0 ? `?${parts.join('&')}` : '';
};

export const urls = {
  list: (folder: string, page = 0): string => `/list${q({ f: folder, p: page || undefined })}`,
  read: (folder: string, uid: number, remote = false): string => `/read${q({ f: folder, u: uid, remote })}`,
  body: (folder: string, uid: number, remote: boolean): string => `/body${q({ f: folder, u: uid, remote })}`,
  part: (folder: string, uid: number, part: string, download: boolean): string => `/part${q({ f: folder, u: uid, p: part, dl: download })}`,
  source: (folder: string, uid: number): string => `/source${q({ f: folder, u: uid })}`,
  compose: (mode?: 'reply' | 'all' | 'fwd' | 'draft', folder?: string, uid?: number): string => `/compose${q({ mode, f: folder, u: uid })}`,
  search: (folder: string, query: string, by: string, page = 0): string => `/search${q({ f: folder, q: query, by, p: page || undefined })}`,
  events: (folder: string): string => `/events${q({ f: folder })}`,
  newer: (folder: string, after: number): string => `/newer${q({ f: folder, after })}`,
};

/** A positive integer query value, or null. */
export function intParam(value: string | null): number | null {
  if (value === null || !/^\d{1,10}$/.test(value)) return null;
  const n = Number(value);
  return n > 0 && n <= 0xffffffff ? n : null;
}

/** Adds `done=...` (a fixed confirmation the next page shows) to a URL of ours. */
export function withDone(path: string, done: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}done=${done}`;
}
