import { describe, expect, it } from 'vitest';
import { completeAddress, decodeDrop, encodeDrop, localMessage, localSender } from './sendmail.js';

const config = { origin: 'example.org', hostname: 'mail.example.org' };

describe('local injection (sendmail)', () => {
  it('completes bare names with the origin', () => {
    expect(completeAddress('root', 'mail.example.org')).toBe('root@mail.example.org');
    expect(completeAddress('<Bob@Example.ORG>', 'x.example')).toBe('Bob@example.org');
  });

  it('a trusted caller names any sender; anyone else only their own', () => {
    const root = { username: 'root', uid: 0, trusted: true };
    const alice = { username: 'alice', uid: 1000, trusted: false };
    expect(localSender(null, root, config)).toEqual({ ok: true, sender: 'root@example.org' });
    expect(localSender('noreply@example.net', root, config)).toEqual({ ok: true, sender: 'noreply@example.net' });
    expect(localSender('<>', root, config)).toEqual({ ok: true, sender: '' });
    expect(localSender(null, alice, config)).toEqual({ ok: true, sender: 'alice@example.org' });
    expect(localSender('alice', alice, config)).toEqual({ ok: true, sender: 'alice@example.org' });
    expect(localSender('alice+cron@mail.example.org', alice, config)).toEqual({ ok: true, sender: 'alice+cron@mail.example.org' });
    for (const forged of ['root', 'bob@example.org', 'alice@example.net', '<>']) {
      expect(localSender(forged, alice, config)).toMatchObject({ ok: false, own: 'alice@example.org' });
    }
  });

  it('adds the header fields a program left out, and keeps those it wrote', () => {
    const out = localMessage({
      data: Buffer.from('Subject: x\r\n\r\nbody\r\n'),
      id: 'q1',
      sender: 'a@example.org',
      recipients: ['b@example.org'],
      hostname: 'mail.example.org',
      fullName: 'Cron "D"',
    }).toString();
    expect(out).toMatch(/^Received: by mail\.example\.org\r\n\twith local\r\n\tid q1\r\n\tfor <b@example\.org>;/);
    expect(out).toMatch(/^From: "Cron D" <a@example\.org>\r\n/m);
    expect(out).toMatch(/^Message-ID: <q1@mail\.example\.org>\r\n/m);
    const kept = localMessage({
      data: Buffer.from('From: me\r\nDate: x\r\nMessage-ID: <m>\r\n\r\nb'),
      id: 'q2',
      sender: 'a@example.org',
      recipients: [],
      hostname: 'h.example',
    }).toString();
    expect(kept.match(/^(From|Date|Message-ID):/gim)).toHaveLength(3);
  });

  it('maildrop files round-trip and a foreign file is refused', () => {
    const env = { sender: null, recipients: ['b@example.org'], fullName: null, notify: ['NEVER'], ret: 'HDRS' as const, envid: null };
    const back = decodeDrop(encodeDrop(env, Buffer.from('Subject: s\r\n\r\nx')));
    expect(back.envelope).toEqual(env);
    expect(back.message.toString()).toBe('Subject: s\r\n\r\nx');
    expect(() => decodeDrop(Buffer.from('Subject: s\n\nx'))).toThrow(/maildrop/);
    expect(() => decodeDrop(Buffer.from('postern-maildrop 1 {"recipients":"x"}\nx'))).toThrow(/envelope/);
  });
});
