import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplyWriter, TruncatedMessageError } from './writer.js';

let server: ReturnType<typeof createServer>;
let serverSide: Socket;
let clientSide: Socket;
let received = '';

beforeAll(async () => {
  server = createServer((s) => {
    serverSide = s;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  clientSide = connect(port, '127.0.0.1');
  clientSide.on('data', (d: Buffer) => (received += d.toString('latin1')));
  await once(server, 'connection');
});

afterAll(async () => {
  clientSide.destroy();
  serverSide.destroy();
  await new Promise((r) => server.close(r));
});

async function until(text: string): Promise<void> {
  for (let i = 0; i < 200 && !received.endsWith(text); i++) await new Promise((r) => setTimeout(r, 5));
}

describe('ReplyWriter', () => {
  it('writes status lines with response codes, and strips CR/LF from text', async () => {
    received = '';
    const w = new ReplyWriter(serverSide);
    await w.write({ kind: 'err', text: 'nope\r\nRETR 1', code: 'IN-USE' });
    await w.write({ kind: 'continue', challenge: '' });
    await w.write({ kind: 'lines', text: '', lines: ['.dot', 'x'] });
    await until('.\r\n');
    expect(received).toBe('-ERR [IN-USE] nope RETR 1\r\n+ \r\n+OK\r\n..dot\r\nx\r\n.\r\n');
  });

  it('refuses to end a message that came out shorter than announced', async () => {
    received = '';
    const w = new ReplyWriter(serverSide);
    const chunks = [Buffer.from('Subject: x\r\n\r\n')];
    await expect(w.write({ kind: 'message', text: '100 octets', chunks, size: 100, bodyLines: null })).rejects.toBeInstanceOf(TruncatedMessageError);
    await until('\r\n\r\n');
    // No terminator: the client cannot take the cut message for a whole one.
    expect(received).toBe('+OK 100 octets\r\nSubject: x\r\n\r\n');
  });
});
