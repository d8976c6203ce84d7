/** A loopback HTTP server standing for "the internet": it records every request made to it. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

export interface Tracker {
  origin: string;
  hits: string[];
  /** Serves this HTML at `path` (an attacker's page). */
  page(path: string, html: string): void;
  close(): Promise<void>;
}

export async function startTracker(): Promise<Tracker> {
  const hits: string[] = [];
  const pages = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const html = pages.get(path);
    if (html !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html);
      return;
    }
    hits.push(path);
    req.resume();
    res.writeHead(200, { 'Content-Type': 'image/png' });
    res.end(PNG);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    hits,
    page: (path, html) => pages.set(path, html),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
