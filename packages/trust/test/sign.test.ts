import { authenticate } from 'mailauth';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureDomainKeys } from '../src/dkim-keys.js';
import { dnsRecords } from '../src/records.js';
import { hostSigningDomain, signMessage, signMessageSync } from '../src/sign.js';
import { testConfig, message } from './fixtures.js';
import { addRecords, zoneLookup, type ZoneData } from './zone.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setup(): { config: ReturnType<typeof testConfig>['config']; zone: ZoneData } {
  const { config, cleanup } = testConfig('mail.a.test');
  cleanups.push(cleanup);
  ensureDomainKeys(config, 'a.test');
  // the verifier reads exactly the records `postern dns` prints
  const zone = addRecords({}, dnsRecords({ config, domain: 'a.test', ipv4: '192.0.2.1' }));
  return { config, zone };
}

const original = message({
  From: 'Alice <alice@a.test>',
  To: 'Bob <bob@b.test>',
  Subject: 'Lunch',
  Date: 'Tue, 02 Jan 2024 10:00:00 +0000',
  'Message-ID': '<lunch-1@a.test>',
  'MIME-Version': '1.0',
  'Content-Type': 'text/plain; charset=utf-8',
});

async function verifyDkim(raw: Buffer, zone: ZoneData): Promise<Array<{ result: string; selector: string; algo: string; comment?: string }>> {
  const r = await authenticate(raw, {
    ip: '192.0.2.1',
    helo: 'mail.a.test',
    sender: 'alice@a.test',
    mta: 'mx.b.test',
    resolver: zoneLookup(zone),
    disableBimi: true,
  });
  return (r.dkim.results ?? []).map((x) => ({
    result: x.status.result,
    selector: x.selector ?? '',
    algo: x.algo ?? '',
    ...(typeof x.status.comment === 'string' ? { comment: x.status.comment } : {}),
  }));
}

describe('signMessage', () => {
  it('prepends an RSA-SHA256 and an Ed25519-SHA256 signature that mailauth verifies (dkim=pass)', async () => {
    const { config, zone } = setup();
    const signed = await signMessage(original, { config, domain: 'a.test' });
    expect(signed.subarray(signed.length - original.length).equals(original)).toBe(true);
    const text = signed.toString();
    expect(text.match(/^DKIM-Signature:/gm)).toHaveLength(2);
    expect(text).toMatch(/a=rsa-sha256; c=relaxed\/relaxed; d=a\.test;/);
    expect(text).toMatch(/a=ed25519-sha256; c=relaxed\/relaxed; d=a\.test;/);
    expect(await verifyDkim(signed, zone)).toEqual([
      { result: 'pass', selector: 'postern', algo: 'rsa-sha256' },
      { result: 'pass', selector: 'postern-ed25519', algo: 'ed25519-sha256' },
    ]);
  });

  it('signs the usual fields and over-signs From (h= lists it once more than present)', async () => {
    const { config } = setup();
    const signed = (await signMessage(original, { config, domain: 'a.test' })).toString();
    const h = /h=([^;]+);/
      .exec(signed.replace(/\r\n\s+/g, ' '))![1]!
      .split(':')
      .map((x) => x.trim().toLowerCase());
    for (const f of ['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type']) expect(h).toContain(f);
    expect(h.filter((f) => f === 'from')).toHaveLength(2);
    expect(h.filter((f) => f === 'subject')).toHaveLength(2);
    // absent but over-signed: nobody may add a Cc or Reply-To later
    expect(h).toContain('cc');
    expect(h).toContain('reply-to');
  });

  it('fails verification when the message is altered after signing', async () => {
    const { config, zone } = setup();
    const signed = await signMessage(original, { config, domain: 'a.test' });
    const body = Buffer.from(signed.toString().replace('see you tomorrow', 'see you NEVER'));
    // mailauth reports a body hash mismatch as neutral with this comment, never as pass
    expect((await verifyDkim(body, zone)).map((r) => `${r.result} ${r.comment}`)).toEqual([
      'neutral body hash did not verify',
      'neutral body hash did not verify',
    ]);
    const subject = Buffer.from(signed.toString().replace('Subject: Lunch', 'Subject: Dinner'));
    expect((await verifyDkim(subject, zone)).map((r) => r.result)).toEqual(['fail', 'fail']);
  });

  it('fails verification when a second From: is added (what over-signing is for)', async () => {
    const { config, zone } = setup();
    const signed = (await signMessage(original, { config, domain: 'a.test' })).toString();
    const sep = signed.indexOf('\r\n\r\n');
    const added = Buffer.from(`${signed.slice(0, sep)}\r\nFrom: Mallory <ceo@a.test>${signed.slice(sep)}`);
    expect((await verifyDkim(added, zone)).map((r) => r.result)).toEqual(['fail', 'fail']);
  });

  it('survives what relaxed canonicalization allows (re-folding, trailing white space)', async () => {
    const { config, zone } = setup();
    const signed = (await signMessage(original, { config, domain: 'a.test' })).toString();
    const refolded = Buffer.from(signed.replace('Subject: Lunch', 'Subject:   Lunch  ').replace('Hello Bob,', 'Hello   Bob,\t'));
    expect((await verifyDkim(refolded, zone)).map((r) => r.result)).toEqual(['pass', 'pass']);
  });

  it('signs a message written with bare LF line ends as it will travel (CRLF)', async () => {
    const { config, zone } = setup();
    const lf = Buffer.from(original.toString().replace(/\r\n/g, '\n'));
    const signed = await signMessage(lf, { config, domain: 'a.test' });
    expect(signed.subarray(signed.length - lf.length).equals(lf)).toBe(true);
    const onTheWire = Buffer.from(signed.toString().replace(/\r?\n/g, '\r\n'));
    expect((await verifyDkim(onTheWire, zone)).map((r) => r.result)).toEqual(['pass', 'pass']);
  });

  it('signs a message with an empty body', async () => {
    const { config, zone } = setup();
    const empty = Buffer.from('From: alice@a.test\r\nSubject: nothing\r\n\r\n');
    const signed = signMessageSync(empty, { config, domain: 'a.test' });
    expect((await verifyDkim(signed, zone)).map((r) => r.result)).toEqual(['pass', 'pass']);
  });

  it('signs with a key of another domain only when asked for that domain', async () => {
    const { config, zone } = setup();
    const signed = await signMessage(original, { config, domain: 'other.test' });
    expect(signed.toString()).toMatch(/d=other\.test;/);
    // no key published for other.test in this zone
    expect((await verifyDkim(signed, zone)).map((r) => `${r.result} ${r.comment}`)).toEqual(['neutral no key', 'neutral no key']);
  });
});

describe('hostSigningDomain', () => {
  it('picks the host name or its nearest parent that has keys, else none', () => {
    const { config } = setup(); // keys for a.test
    expect(hostSigningDomain(config, 'mail.a.test')).toBe('a.test');
    expect(hostSigningDomain(config, 'a.test')).toBe('a.test');
    expect(hostSigningDomain(config, 'mx.eu.a.test.')).toBe('a.test');
    expect(hostSigningDomain(config, 'mail.b.test')).toBeNull();
    expect(hostSigningDomain(config, 'bad_label!.a.test')).toBe('a.test');
    ensureDomainKeys(config, 'eu.a.test');
    expect(hostSigningDomain(config, 'mx.eu.a.test')).toBe('eu.a.test');
  });
});
