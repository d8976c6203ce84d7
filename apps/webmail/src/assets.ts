/**
 * The page's static files (one stylesheet, one script, an icon), read once at start from
 * `dist/static`, served from memory with a content hash in the URL so browsers cache them for good.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  type: string;
  hash: string;
}

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const assets = new Map<string, Asset>();

/** Loads `dir` (default: dist/static beside this module). Safe to call more than once. */
export function loadAssets(dir = fileURLToPath(new URL('./static/', import.meta.url))): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return; // not built: pages still work, unstyled
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    assets.set(name, { body, type, hash: createHash('sha256').update(body).digest('hex').slice(0, 12) });
  }
}

export function asset(name: string): Asset | undefined {
  return assets.get(name);
}

/** URL of a static file, versioned by its content. */
export function assetUrl(name: string): string {
  const a = assets.get(name);
  return `/static/${name}${a ? `?v=${a.hash}` : ''}`;
}
