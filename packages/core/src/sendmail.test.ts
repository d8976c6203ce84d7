import { describe, expect, it } from 'vitest';
import { completeAddress, completeHeaderAddresses, decodeDrop, encodeDrop, localMessage, localSender } from './sendmail.js';

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

  it('completes bare names in the address fields of the header, byte for byte otherwise (Postfix append_at_myorigin)', () => {
    const o = 'mail.example.org';
    expect(completeHeaderAddresses(' root', o)).toBe(' root@mail.example.org');
    expect(completeHeaderAddresses(' root (Cron Daemon)', o)).toBe(' root@mail.example.org (Cron Daemon)');
    expect(completeHeaderAddresses(' Cron Daemon <root>', o)).toBe(' Cron Daemon <root@mail.example.org>');
    expect(completeHeaderAddresses(' alice, "Bob, B." <bob@b.example>,\r\n carol', o)).toBe(
      ' alice@mail.example.org, "Bob, B." <bob@b.example>,\r\n carol@mail.example.org',
    );
    expect(completeHeaderAddresses(' undisclosed-recipients:;', o)).toBe(' undisclosed-recipients:;');
    expect(completeHeaderAddresses(' friends: ann, ben;', o)).toBe(' friends: ann, ben;');
    expect(completeHeaderAddresses(' "root" <x@y.example>', o)).toBe(' "root" <x@y.example>');
    expect(completeHeaderAddresses(' <>', o)).toBe(' <>');

    const out = localMessage({
      data: Buffer.from('From: root (Cron Daemon)\r\nTo: root\r\nSubject: root\r\nX-Note: root\r\n\r\nTo: root\r\n'),
      id: 'q3',
      sender: 'root@mail.example.org',
      recipients: ['root@mail.example.org'],
      hostname: o,
      origin: o,
    }).toString();
    expect(out).toContain('From: root@mail.example.org (Cron Daemon)\r\nTo: root@mail.example.org\r\nSubject: root\r\nX-Note: root\r\n\r\nTo: root\r\n');
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
