/**
 * New mail without a reload: a second IMAP connection per open page selects the folder shown
 * (read-only) and sits in IDLE (RFC 2177); what the server announces (EXISTS, EXPUNGE, FETCH
 * FLAGS) goes to the page as server-sent events. The page then asks /newer for the rows.
 */
import type { ImapFlow } from 'imapflow';
import { MailAccount, openFolder } from '../mail/account.js';
import type { Route } from '../server.js';
import { authed, folderParam } from './common.js';

/** Open pages (tabs) per session that get live updates; the oldest gives way. */
const MAX_STREAMS = 4;
const KEEPALIVE_MS = 25_000;

export const eventRoutes: Route[] = [
  {
    method: 'GET',
    path: '/events',
    auth: true,
    api: true,
    handler: async (c) => {
      const ctx = authed(c);
      const { session, state, req, res } = ctx;
      const folder = folderParam(ctx.url.searchParams.get('f'), 'INBOX');
      const streams = session.resources.streams;
      if (streams.size >= MAX_STREAMS) {
        const oldest = streams.values().next().value!;
        streams.delete(oldest);
        await oldest();
      }

      const client: ImapFlow = await MailAccount.connect(state.imap, session.user, session.password, state.logger, true, session.resources.account.clientIp);
      let stopped = false;
      let keepalive: NodeJS.Timeout | undefined;
      /** `answering`: the request is still to be answered (with an error), so the response stays. */
      const stop = async (answering = false): Promise<void> => {
        if (stopped) return;
        stopped = true;
        clearInterval(keepalive);
        streams.delete(stop);
        if (res.headersSent && !res.writableEnded) res.end();
        else if (!res.headersSent && !answering) res.destroy();
        if (client.usable) await client.logout().catch(() => client.close());
        else client.close();
      };
      streams.add(stop);
      req.on('close', () => void stop());
      try {
        await openFolder(folder, () => client.mailboxOpen(folder, { readOnly: true }));
      } catch (err) {
        const gone = stopped;
        await stop(true);
        if (gone) return { kind: 'handled' }; // the page left (or logged out) meanwhile
        throw err;
      }
      // The page left, or the session ended, while the folder was being opened.
      if (stopped) return { kind: 'handled' };

      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        'X-Accel-Buffering': 'no',
        Connection: 'keep-alive',
      });
      const send = (event: string, data: unknown): void => {
        if (!stopped) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      res.write('retry: 5000\n\n');
      send('ready', { folder, exists: client.mailbox ? client.mailbox.exists : 0, uidNext: client.mailbox ? client.mailbox.uidNext : 1 });
      keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      keepalive.unref();

      client.on('exists', (e: { count: number; prevCount: number }) => send('exists', { count: e.count, prev: e.prevCount }));
      client.on('expunge', () => send('expunge', {}));
      client.on('flags', (e: { uid?: number; flags: Set<string> }) => send('flags', { uid: e.uid ?? null, flags: [...e.flags] }));
      client.on('close', () => void stop());

      void (async () => {
        // IDLE until the page goes away; imapflow ends and restarts it every maxIdleTime.
        while (!stopped && client.usable) {
          try {
            await client.idle();
          } catch {
            break;
          }
        }
        await stop();
      })();
      return { kind: 'handled' };
    },
  },
];
