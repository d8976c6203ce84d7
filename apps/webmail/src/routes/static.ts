/** The stylesheet, script and icon, from memory; their URLs carry a content hash. */
import { asset } from '../assets.js';
import { HttpError } from '../http.js';
import type { Route } from '../server.js';

export function staticRoutes(names: readonly string[]): Route[] {
  return names.map((name) => ({
    method: 'GET' as const,
    path: `/static/${name}`,
    auth: false,
    handler: async () => {
      const a = asset(name);
      if (!a) throw new HttpError(404, 'There is no such file.');
      return { kind: 'file' as const, contentType: a.type, body: a.body, cacheSeconds: 31_536_000 };
    },
  }));
}
