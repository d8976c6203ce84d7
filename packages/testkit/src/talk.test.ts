import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Talk } from './talk.js';

/** A scripted peer: for each line received, writes what `answer` returns. */
function peer(greeting: string, answer: (line: string, s: Socket) => string): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.write(greeting);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        s.write(Buffer.from(answer(line, s), 'latin1'));
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

let server: Server | undefined;
afterEach(() => server?.close());

describe('Talk', () => {
  it('reads SMTP replies whole, multi-line ones too', async () => {
    const p = await peer('220 hi\r\n', (l) => (l.startsWith('EHLO') ? '250-a\r\n250-b\r\n250 c\r\n' : '250 2.0.0 Ok\r\n'));
    server = p.server;
    const c = await Talk.open(p.port);
    await c.expectPrefix('220 ');
    await c.send('EHLO x');
    expect(await c.expectMulti('250')).toEqual(['250-a', '250-b', '250 c']);
    expect(await c.smtp('NOOP')).toBe('250 2.0.0 Ok');
    await expect(c.expect('never', 200)).rejects.toThrow(/nothing matching/);
    c.close();
  });

  it('reads IMAP responses up to the tag, with literals inline', async () => {
    const p = await peer('* OK ready\r\n', (l) => `* 1 FETCH (BODY[] {7}\r\nab\r\ncd\r\n)\r\n${l.split(' ')[0]} OK done\r\n`);
    server = p.server;
    const c = await Talk.open(p.port, { encoding: 'utf8' });
    await c.expect('* OK ready');
    expect(await c.imap('a1 FETCH 1 BODY[]')).toEqual(['* 1 FETCH (BODY[] {7}\r\nab\r\ncd\r\n)', 'a1 OK done']);
    c.close();
  });

  it('reads POP3 multi-line answers as sent', async () => {
    const p = await peer('+OK pop\r\n', (l) => (l === 'LIST' ? '+OK 2\r\n1 10\r\n..x\r\n.\r\n' : '+OK\r\n.\r\n'));
    server = p.server;
    const c = await Talk.open(p.port);
    await c.line();
    expect(await c.pop3('LIST')).toBe('+OK 2');
    expect(await c.pop3Lines()).toEqual(['1 10', '..x']);
    expect(await c.pop3('UIDL')).toBe('+OK');
    expect(await c.pop3Lines()).toEqual([]);
    c.close();
  });

  it('reads ManageSieve responses up to OK / NO / BYE', async () => {
    const p = await peer('"IMPLEMENTATION" "x"\r\nOK\r\n', () => '"a" ACTIVE\r\nNO (QUOTA) "full"\r\n');
    server = p.server;
    const c = await Talk.open(p.port);
    expect(await c.sieveResponse()).toEqual(['"IMPLEMENTATION" "x"', 'OK']);
    expect(await c.sieve('LISTSCRIPTS')).toEqual(['"a" ACTIVE', 'NO (QUOTA) "full"']);
    c.close();
    expect(await c.waitClosed(1000)).toBe(true);
  });
});
