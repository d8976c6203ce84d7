import { generateKeyPairSync } from 'node:crypto';
import { sealMessage } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDomainKeys } from '../src/dkim-keys.js';
import { authservId, CHECKED_HEADER_LINES, checkedPart, checkInbound, inboundPolicyOf, stripForgedAuthResults, type InboundInput } from '../src/inbound.js';
import { signMessage } from '../src/sign.js';
import { testConfig, message } from './fixtures.js';
import { zoneLookup, type ZoneData } from './zone.js';

const ALICE_IP = '192.0.2.1';
const STRANGER_IP = '203.0.113.66';
const LIST_IP = '198.51.100.7';

let config: ReturnType<typeof testConfig>['config'];
let cleanup: () => void;
const zone: ZoneData = {};
const arcKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

beforeAll(() => {
  ({ config, cleanup } = testConfig('mail.a.test'));
  const keys = ensureDomainKeys(config, 'a.test').keys;
  Object.assign(zone, {
    // a.test: strict SPF, DMARC reject, our DKIM keys
    'a.test': { TXT: [['v=spf1 ip4:192.0.2.1 -all']] },
    '_dmarc.a.test': { TXT: [['v=DMARC1; p=reject; rua=mailto:postmaster@a.test']] },
    'postern._domainkey.a.test': { TXT: [[`v=DKIM1; k=rsa; p=${keys[0]!.publicKey}`]] },
    'postern-ed25519._domainkey.a.test': { TXT: [[`v=DKIM1; k=ed25519; p=${keys[1]!.publicKey}`]] },
    // q.test: soft SPF, DMARC quarantine
    'q.test': { TXT: [['v=spf1 ip4:192.0.2.2 ~all']] },
    '_dmarc.q.test': { TXT: [['v=DMARC1; p=quarantine']] },
    // n.test: hard SPF, DMARC monitoring only
    'n.test': { TXT: [['v=spf1 ip4:192.0.2.3 -all']] },
    '_dmarc.n.test': { TXT: [['v=DMARC1; p=none']] },
    // h.test: half the mail under p=reject (pct=50)
    'h.test': { TXT: [['v=spf1 ip4:192.0.2.4 -all']] },
    '_dmarc.h.test': { TXT: [['v=DMARC1; p=reject; pct=50']] },
    // l.test: a mailing list host; f.test: a forwarder that seals with ARC
    'l.test': { TXT: [['v=spf1 ip4:198.51.100.7 -all']] },
    'f.test': { TXT: [['v=spf1 ip4:198.51.100.7 -all']] },
    'arc._domainkey.f.test': { TXT: [[`v=DKIM1; k=rsa; p=${arcKey.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`]] },
    // t.test: its DNS is down
  });
});
afterAll(() => cleanup());

function mail(from: string, extra: Record<string, string> = {}): Buffer {
  return message({ From: from, To: 'bob@b.test', Subject: 'Hello', Date: 'Tue, 02 Jan 2024 10:00:00 +0000', 'Message-ID': `<${Math.random()}@x>`, ...extra });
}

function input(raw: Buffer, ip: string, mailFrom: string, extra: Partial<InboundInput> = {}): InboundInput {
  return { raw, ip, helo: 'client.example', mailFrom, hostname: 'mx.b.test', resolver: zoneLookup(zone, ['t.test', '_dmarc.t.test']), ...extra };
}

describe('checkInbound', () => {
  it('reads a bounded part of a huge header: a million lines are checked in a moment, and a signature at the top still passes', async () => {
    const normal = mail('Alice <alice@a.test>');
    expect(checkedPart(normal)).toBe(normal); // untouched: the same buffer
    const signed = await signMessage(mail('Alice <alice@a.test>'), { config, domain: 'a.test' });
    const end = signed.indexOf('\r\n\r\n') + 2;
    const huge = Buffer.concat([signed.subarray(0, end), Buffer.from('X-Pad: x\r\n'.repeat(1_000_000)), signed.subarray(end)]);
    const part = checkedPart(huge);
    const header = part.subarray(0, part.indexOf('\r\n\r\n') + 2).toString();
    expect(header.split('\r\n').length - 1).toBe(CHECKED_HEADER_LINES);
    expect(part.subarray(part.indexOf('\r\n\r\n') + 2).equals(signed.subarray(end))).toBe(true); // the whole body
    const started = performance.now();
    const r = await checkInbound(input(huge, ALICE_IP, 'alice@a.test'));
    process.stdout.write(`checks of a 1,000,000-line header: ${Math.round(performance.now() - started)} ms\n`);
    expect([r.spf, r.dkim, r.dmarc]).toEqual(['pass', ['pass', 'pass'], 'pass']);
    // a header without an end (no empty line, no body) is cut the same way
    const endless = Buffer.from('x\r\n'.repeat(200_000));
    expect(checkedPart(endless).toString().split('\r\n').length).toBe(CHECKED_HEADER_LINES + 2);
  });

  it('passes signed mail from a permitted IP: spf, dkim and dmarc pass, accepted', async () => {
    const raw = await signMessage(mail('Alice <alice@a.test>'), { config, domain: 'a.test' });
    const r = await checkInbound(input(raw, ALICE_IP, 'alice@a.test'));
    expect(r.verdict).toBe('accept');
    expect([r.spf, r.dkim, r.dmarc, r.arc]).toEqual(['pass', ['pass', 'pass'], 'pass', 'none']);
    expect(r.header).toMatch(/^Authentication-Results: mx\.b\.test;\r\n /);
    expect(r.header).toMatch(/dkim=pass header\.i=@a\.test header\.s=postern header\.a=rsa-sha256/);
    expect(r.header).toMatch(/dkim=pass header\.i=@a\.test header\.s=postern-ed25519 header\.a=ed25519-sha256/);
    expect(r.header).toMatch(/spf=pass .*smtp\.mailfrom=alice@a\.test/);
    expect(r.header).toMatch(/dmarc=pass .*header\.from=a\.test/);
    expect(r.header).toMatch(/;\r\n arc=none$/);
    // every line of the field is folded (CRLF + space) and none ends the field early
    expect(
      r.header
        .split('\r\n')
        .slice(1)
        .every((l) => l.startsWith(' ')),
    ).toBe(true);
  });

  it('reports a signature whose body was changed as dkim=fail (RFC 8601 §2.7.1), not neutral', async () => {
    const signed = await signMessage(mail('Alice <alice@a.test>'), { config, domain: 'a.test' });
    const tampered = Buffer.from(signed.toString('latin1').replace(/\r\n\r\n([\s\S]*)$/, '\r\n\r\nchanged body\r\n'), 'latin1');
    const r = await checkInbound(input(tampered, ALICE_IP, 'alice@a.test'));
    expect(r.dkim).toEqual(['fail', 'fail']);
    expect(r.header).toMatch(/dkim=fail /);
    expect(r.header).not.toMatch(/dkim=neutral/);
  });

  it('refuses forged mail from a p=reject domain with 550 5.7.1', async () => {
    const r = await checkInbound(input(mail('CEO <ceo@a.test>'), STRANGER_IP, 'ceo@a.test'));
    expect(r.verdict).toBe('reject');
    expect(r.reply).toEqual({ code: 550, enhanced: '5.7.1', text: expect.stringContaining('DMARC policy of a.test (p=reject)') });
    expect([r.spf, r.dkim, r.dmarc]).toEqual(['fail', ['none'], 'fail']);
  });

  it('refuses p=reject mail altered after signing, sent from elsewhere', async () => {
    const signed = (await signMessage(mail('Alice <alice@a.test>'), { config, domain: 'a.test' })).toString();
    const altered = Buffer.from(signed.replace('see you tomorrow', 'wire the money'));
    const r = await checkInbound(input(altered, STRANGER_IP, 'alice@a.test'));
    expect(r.verdict).toBe('reject');
    expect(r.dkim).not.toContain('pass');
  });

  it('accepts p=reject mail whose aligned DKIM passes although SPF fails (plain forwarding)', async () => {
    const raw = await signMessage(mail('Alice <alice@a.test>'), { config, domain: 'a.test' });
    const r = await checkInbound(input(raw, STRANGER_IP, 'alice@a.test'));
    expect([r.spf, r.dmarc, r.verdict]).toEqual(['fail', 'pass', 'accept']);
  });

  it('delivers a DMARC quarantine failure to Junk', async () => {
    const r = await checkInbound(input(mail('q@q.test'), STRANGER_IP, 'q@q.test'));
    expect([r.spf, r.dmarc, r.verdict]).toEqual(['softfail', 'fail', 'junk']);
    expect(r.reason).toMatch(/q\.test \(p=quarantine\)/);
  });

  it('with p=none, an SPF -all failure without aligned DKIM goes to Junk; a softfail is accepted', async () => {
    const hard = await checkInbound(input(mail('n@n.test'), STRANGER_IP, 'n@n.test'));
    expect([hard.spf, hard.dmarc, hard.verdict]).toEqual(['fail', 'fail', 'junk']);
    expect(hard.reason).toMatch(/SPF of n\.test fails for 203\.0\.113\.66/);
    const good = await checkInbound(input(mail('n@n.test'), '192.0.2.3', 'n@n.test'));
    expect([good.spf, good.dmarc, good.verdict]).toEqual(['pass', 'pass', 'accept']);
    const soft = await checkInbound(input(mail('someone@q.test'), STRANGER_IP, 'bounces@q.test', { policy: { dmarcQuarantine: 'accept' } }));
    expect([soft.spf, soft.verdict]).toEqual(['softfail', 'accept']);
  });

  it('a domain with no SPF and no DMARC: none, accepted', async () => {
    const r = await checkInbound(input(mail('x@nothing.test'), STRANGER_IP, 'x@nothing.test'));
    expect([r.spf, r.dkim, r.dmarc, r.verdict]).toEqual(['none', ['none'], 'none', 'accept']);
  });

  it('sends mailing-list mail failing p=reject to Junk, never refuses it', async () => {
    // The list rewrote the subject (breaking Alice's signature) and sends from its own IP and
    // envelope sender: DMARC fails honestly.
    const signed = (await signMessage(mail('Alice <alice@a.test>'), { config, domain: 'a.test' })).toString();
    const listed = Buffer.from(`List-Id: Friends <friends.l.test>\r\n${signed.replace('Subject: Hello', 'Subject: [friends] Hello')}`);
    const r = await checkInbound(input(listed, LIST_IP, 'friends-bounces@l.test'));
    expect([r.spf, r.dmarc, r.verdict]).toEqual(['pass', 'fail', 'junk']);
    expect(r.reason).toMatch(/forwarded or list mail/);
  });

  it('sends forwarded mail with a valid ARC chain failing p=reject to Junk', async () => {
    const signed = (await signMessage(mail('Alice <alice@a.test>'), { config, domain: 'a.test' })).toString();
    const modified = Buffer.from(signed.replace('see you tomorrow.', 'see you tomorrow.\r\n-- \r\nforwarded by f.test'));
    const seal = await sealMessage(modified, {
      signingDomain: 'f.test',
      selector: 'arc',
      privateKey: arcKey.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      authResults: 'mx.f.test; dkim=pass header.d=a.test; spf=pass smtp.mailfrom=alice@a.test; dmarc=pass header.from=a.test',
      cv: 'none',
    });
    const sealed = Buffer.concat([seal, modified]);
    const r = await checkInbound(input(sealed, LIST_IP, 'alice@a.test'));
    expect([r.arc, r.dmarc, r.verdict]).toEqual(['pass', 'fail', 'junk']);
    expect(r.header).toMatch(/arc=pass/);
    // the same message without its seal is refused
    const bare = await checkInbound(input(modified, LIST_IP, 'alice@a.test'));
    expect(bare.verdict).toBe('reject');
  });

  it('reads the policy from the [inbound] section of the config', () => {
    expect(inboundPolicyOf(config)).toEqual({ dmarcReject: 'reject', dmarcQuarantine: 'junk', spfFail: 'junk', forwarded: 'junk' });
    const other = testConfig('mx.b.test', { inbound: { dmarc_reject: 'junk', spf_fail: 'accept' } });
    expect(inboundPolicyOf(other.config)).toEqual({ dmarcReject: 'junk', dmarcQuarantine: 'junk', spfFail: 'accept', forwarded: 'junk' });
    other.cleanup();
  });

  it('follows the configured policy', async () => {
    const forged = mail('CEO <ceo@a.test>');
    expect((await checkInbound(input(forged, STRANGER_IP, 'ceo@a.test', { policy: { dmarcReject: 'junk' } }))).verdict).toBe('junk');
    expect((await checkInbound(input(forged, STRANGER_IP, 'ceo@a.test', { policy: { dmarcReject: 'accept', spfFail: 'accept' } }))).verdict).toBe('accept');
    const n = mail('n@n.test');
    expect((await checkInbound(input(n, STRANGER_IP, 'n@n.test', { policy: { spfFail: 'accept' } }))).verdict).toBe('accept');
  });

  it('applies DMARC pct: outside the sample, reject becomes quarantine (Junk)', async () => {
    const m = mail('h@h.test');
    expect((await checkInbound(input(m, STRANGER_IP, 'h@h.test', { random: () => 0.2 }))).verdict).toBe('reject');
    expect((await checkInbound(input(m, STRANGER_IP, 'h@h.test', { random: () => 0.7 }))).verdict).toBe('junk');
  });

  it('writes a DNS failure down as temperror and accepts', async () => {
    const r = await checkInbound(input(mail('t@t.test'), STRANGER_IP, 't@t.test'));
    expect(r.spf).toBe('temperror');
    expect(r.dmarc).toBe('temperror');
    expect(r.verdict).toBe('accept');
  });

  it('gives up after timeoutMs: everything temperror, accepted', async () => {
    const never: InboundInput['resolver'] = () => new Promise(() => undefined);
    const r = await checkInbound(input(mail('CEO <ceo@a.test>'), STRANGER_IP, 'ceo@a.test', { resolver: never, timeoutMs: 50 }));
    expect([r.verdict, r.spf, r.dmarc, r.reason]).toEqual(['accept', 'temperror', 'temperror', 'checks timed out']);
    expect(r.header).toBe(
      'Authentication-Results: mx.b.test;\r\n dkim=temperror (checks timed out);\r\n spf=temperror;\r\n dmarc=temperror;\r\n arc=temperror',
    );
  });

  it('checks the HELO name for the null sender (bounces)', async () => {
    const r = await checkInbound(input(mail('MAILER-DAEMON@a.test'), ALICE_IP, '', { helo: 'a.test' }));
    expect(r.spf).toBe('pass');
    expect(r.header).toMatch(/smtp\.mailfrom=postmaster@a\.test/);
  });
});

describe('stripForgedAuthResults', () => {
  const forged = Buffer.from(
    'Authentication-Results: mx.b.test;\r\n dkim=pass header.d=bank.test; spf=pass\r\n' +
      'Received: from x by y\r\n' +
      'Authentication-Results: (comment) MX.B.TEST. 1; dmarc=pass\r\n' +
      'Authentication-Results: mx.elsewhere.test; spf=fail\r\n' +
      'X-Postern-Junk: no\r\n' +
      'Subject: hi\r\n\r\n' +
      'Authentication-Results: mx.b.test; in the body stays\r\n',
  );

  it('removes every Authentication-Results field claiming our host name and our Junk marker, nothing else', () => {
    const out = stripForgedAuthResults(forged, 'mx.b.test').toString();
    expect(out).toBe(
      'Received: from x by y\r\n' +
        'Authentication-Results: mx.elsewhere.test; spf=fail\r\n' +
        'Subject: hi\r\n\r\n' +
        'Authentication-Results: mx.b.test; in the body stays\r\n',
    );
  });

  it('finds a forged field behind a million short lines, in one linear pass', () => {
    const pad = 'x\r\n'.repeat(1_000_000);
    const msg = Buffer.from(`Subject: hi\r\n${pad}Authentication-Results: mx.b.test;\r\n\tdkim=pass\r\nX-Other: 1\r\n\r\nbody\r\n`);
    const started = performance.now();
    const out = stripForgedAuthResults(msg, 'mx.b.test').toString();
    process.stdout.write(`stripping behind 1,000,000 lines: ${Math.round(performance.now() - started)} ms\n`);
    expect(out).toBe(`Subject: hi\r\n${pad}X-Other: 1\r\n\r\nbody\r\n`);
  });

  it('returns the very same buffer when there is nothing to strip', () => {
    const clean = Buffer.from('Subject: hi\r\n\r\nbody\r\n');
    expect(stripForgedAuthResults(clean, 'mx.b.test')).toBe(clean);
  });

  it('reads the authserv-id through comments and a version', () => {
    expect(authservId(' (our MX) mx.b.test 1; spf=pass')).toBe('mx.b.test');
    expect(authservId('mx.b.test;spf=pass')).toBe('mx.b.test');
    expect(authservId('mx.b.test.; none')).toBe('mx.b.test');
  });
});
