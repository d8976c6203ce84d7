/**
 * Real clients against a server made of the codec (test/script-server.ts): imapflow, with and
 * without LITERAL+ (so synchronizing literals and continuations are exercised), and python's
 * imaplib. Every command they send must parse, and what they read back must be right.
 */
import { spawnSync } from 'node:child_process';
import { ImapFlow } from 'imapflow';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptServer } from './script-server.js';

const BASE_CAPS = [
  'IMAP4rev1',
  'IDLE',
  'UIDPLUS',
  'MOVE',
  'NAMESPACE',
  'ENABLE',
  'CONDSTORE',
  'SPECIAL-USE',
  'ID',
  'UNSELECT',
  'AUTH=PLAIN',
  'ESEARCH',
  'LIST-EXTENDED',
  'LIST-STATUS',
];

let server: ScriptServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function waitFor(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(predicate()).toBe(true);
}

for (const literalPlus of [true, false]) {
  describe(`imapflow session (${literalPlus ? 'LITERAL+, LOGIN' : 'synchronizing literals, AUTHENTICATE PLAIN continuation'})`, () => {
    it('lists, selects, fetches, stores, searches, appends, moves, idles and logs out', async () => {
      const caps = literalPlus ? [...BASE_CAPS, 'LITERAL+'] : BASE_CAPS;
      server = new ScriptServer({ capabilities: caps, user: 'bob@example.org', pass: 'pä ss"word' });
      const port = await server.listen();
      const client = new ImapFlow({
        host: '127.0.0.1',
        port,
        secure: false,
        auth: { user: 'bob@example.org', pass: 'pä ss"word', ...(literalPlus ? { loginMethod: 'LOGIN' } : {}) },
        logger: false,
        disableAutoIdle: true,
      });
      await client.connect();

      const list = await client.list();
      expect(list.map((m) => m.path).sort()).toEqual(['Entwürfe', 'INBOX', 'Sent', 'Trash']);
      expect(list.find((m) => m.path === 'Sent')?.specialUse).toBe('\\Sent');

      const lock = await client.getMailboxLock('INBOX');
      try {
        const messages = [];
        for await (const m of client.fetch('1:*', {
          uid: true,
          flags: true,
          envelope: true,
          bodyStructure: true,
          internalDate: true,
          size: true,
          source: true,
        })) {
          messages.push(m);
        }
        expect(messages.map((m) => [m.uid, m.envelope?.subject, [...(m.flags ?? [])]])).toEqual([
          [1, 'Hello', ['\\Seen']],
          [2, 'Lunch?', []],
          [3, 'Report', []],
        ]);
        const inbox = server.mailboxes.get('INBOX');
        expect(messages[2]?.source?.equals(inbox?.messages[2]?.raw as Buffer)).toBe(true);
        expect(messages[0]?.bodyStructure?.type).toBe('text/plain');

        const one = await client.fetchOne('2', { headers: ['subject'], bodyParts: ['text'] }, { uid: true });
        expect(one ? one.headers?.toString() : one).toContain('Subject: Lunch?');

        expect(await client.messageFlagsAdd('2:3', ['\\Flagged'], { uid: true })).toBe(true);
        expect([...(inbox?.messages[1]?.flags ?? [])]).toEqual(['\\Flagged']);
        expect(await client.search({ seen: false }, { uid: true })).toEqual([2, 3]);
        expect(await client.search({ flagged: true, subject: 'Report' })).toEqual([3]);

        const raw = Buffer.from('From: bob@example.org\r\nSubject: draft with ünïcode\r\n\r\n' + 'x'.repeat(5000) + '\r\n');
        const appended = await client.append('Sent', raw, ['\\Seen'], new Date('2024-05-06T07:08:09Z'));
        expect(appended ? appended.uid : appended).toBe(1);
        expect(server.mailboxes.get('Sent')?.messages[0]?.raw.equals(raw)).toBe(true);
        const small = Buffer.from('Subject: small\r\n\r\nshort body\r\n');
        expect((await client.append('Sent', small)) && server.mailboxes.get('Sent')?.messages[1]?.raw.equals(small)).toBe(true);

        const moved = await client.messageMove('1', 'Trash', { uid: true });
        expect(moved ? moved.uidMap?.get(1) : moved).toBe(1);
        expect(server.mailboxes.get('Trash')?.messages.length).toBe(1);

        const idle = client.idle();
        await waitFor(() => server?.commands.at(-1)?.name === 'IDLE');
        await client.noop();
        await idle;
      } finally {
        lock.release();
      }
      const st = await client.status('INBOX', { messages: true, unseen: true, uidNext: true });
      expect(st && [st.messages, st.unseen, st.uidNext]).toEqual([2, 2, 4]);
      await client.logout();

      expect(server.errors).toEqual([]);
      const names = new Set(server.commands.map((c) => c.name));
      // LOGIN carries the non-ASCII password as a literal; AUTHENTICATE PLAIN answers a `+ `.
      const login = server.commands.find((c) => c.name === 'LOGIN');
      expect(login && login.name === 'LOGIN' && login.password).toBe(literalPlus ? 'pä ss"word' : undefined);
      if (!literalPlus) expect(server.rawLines[0]).toBe(Buffer.from('\0bob@example.org\0pä ss"word').toString('base64'));
      // imapflow treats LITERAL+ like LITERAL-: literals up to 4096 octets go as {n+}, the 5 kB
      // APPEND body as {n} with a continuation. Without it, every literal waits for `+`.
      expect(server.literalsAccepted).toBe(literalPlus ? 1 : 2);
      expect(server.rawLines.at(-1)).toBe('DONE');
      for (const n of [
        literalPlus ? 'LOGIN' : 'AUTHENTICATE',
        'LIST',
        'SELECT',
        'FETCH',
        'STORE',
        'SEARCH',
        'APPEND',
        'MOVE',
        'IDLE',
        'NOOP',
        'STATUS',
        'LOGOUT',
      ]) {
        expect(names, n).toContain(n);
      }
    });
  });
}

describe('python imaplib session', () => {
  it('logs in, selects, searches, fetches, stores, appends, expunges', async () => {
    const probe = spawnSync('python3', ['-c', 'import imaplib'], { encoding: 'utf8' });
    if (probe.status !== 0) throw new Error('python3 with imaplib is required for this test');
    server = new ScriptServer({ capabilities: ['IMAP4rev1', 'UIDPLUS', 'AUTH=PLAIN'], user: 'alice', pass: 's3cret pw' });
    const port = await server.listen();
    const script = `
import imaplib, json, sys
M = imaplib.IMAP4('127.0.0.1', ${port})
out = {}
out['login'] = M.login('alice', 's3cret pw')[0]
out['list'] = [x.decode() for x in M.list()[1]]
out['select'] = M.select('INBOX')[1][0].decode()
out['search'] = M.search(None, 'UNSEEN')[1][0].decode()
typ, data = M.fetch('1', '(RFC822)')
out['rfc822'] = data[0][1].decode()
out['flags'] = [x.decode() for x in M.fetch('1:*', '(UID FLAGS)')[1]]
out['store'] = [x.decode() for x in M.store('2', '+FLAGS', '\\\\Deleted')[1]]
out['append'] = M.append('Sent', '(\\\\Seen)', imaplib.Time2Internaldate(1700000000), b'Subject: via imaplib\\r\\n\\r\\nhi\\r\\n')[0]
out['expunge'] = [x.decode() for x in M.expunge()[1] if x]
out['uidsearch'] = M.uid('SEARCH', None, 'ALL')[1][0].decode()
out['logout'] = M.logout()[0]
print(json.dumps(out))
`;
    const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      import('node:child_process').then(({ spawn }) => {
        const p = spawn('python3', ['-c', script]);
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const out = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      login: 'OK',
      select: '3',
      search: '2 3',
      append: 'OK',
      expunge: ['2'],
      uidsearch: '1 3',
      logout: 'BYE',
    });
    expect(out.list).toContain('(\\HasNoChildren \\Sent) "/" Sent');
    expect(out.list).toContain('(\\HasNoChildren \\Drafts) "/" Entw&APw-rfe');
    expect(out.rfc822).toContain('Subject: Hello');
    expect(out.flags).toEqual(['1 (UID 1 FLAGS (\\Seen))', '2 (UID 2 FLAGS ())', '3 (UID 3 FLAGS ())']);
    expect(out.store).toEqual(['2 (FLAGS (\\Deleted))']);
    expect(server.mailboxes.get('Sent')?.messages[0]?.internalDate.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    expect(server.errors).toEqual([]);
    expect(server.commands.map((c) => c.name)).toEqual([
      'CAPABILITY',
      'LOGIN',
      'LIST',
      'SELECT',
      'SEARCH',
      'FETCH',
      'FETCH',
      'STORE',
      'APPEND',
      'EXPUNGE',
      'SEARCH',
      'LOGOUT',
    ]);
  });
});

describe('raw socket conversation', () => {
  it('answers bad input with BAD/NO [TOOBIG], asks for literals, keeps the session alive', async () => {
    server = new ScriptServer({ capabilities: ['IMAP4rev1'], user: 'alice', pass: 'pw' });
    const port = await server.listen();
    const { connect } = await import('node:net');
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const expectLine = async (re: RegExp): Promise<void> => {
      await waitFor(() => re.test(received));
      received = received.replace(re, '');
    };
    await expectLine(/^\* OK \[CAPABILITY IMAP4rev1\] .*\r\n/);
    socket.write('a1 FROB\r\n');
    await expectLine(/^a1 BAD Unknown command "FROB"\r\n/);
    socket.write('a2 APPEND INBOX {99999999}\r\n');
    await expectLine(/^a2 NO \[TOOBIG\] .*\r\n/);
    socket.write(`a3 LOGIN ${'x'.repeat(70_000)}\r\n`);
    await expectLine(/^a3 BAD \[TOOBIG\] .*\r\n/);
    socket.write('a4 LOGIN {5}\r\n');
    await expectLine(/^\+ Ready\r\n/);
    socket.write('alice {2}\r\n');
    await expectLine(/^\+ Ready\r\n/);
    socket.write('pw\r\n');
    await expectLine(/^a4 OK \[CAPABILITY IMAP4rev1\] LOGIN completed\r\n/);
    socket.write('a5 SEARCH CHARSET KOI8-R ALL\r\n');
    await expectLine(/^a5 NO \[BADCHARSET \(UTF-8 US-ASCII\)\] .*\r\n/);
    socket.write('a6 LOGOUT\r\n');
    await expectLine(/^\* BYE .*\r\na6 OK LOGOUT completed\r\n/);
    socket.destroy();
    expect(server.commands.map((c) => c.tag)).toEqual(['a4', 'a6']);
  });
});
