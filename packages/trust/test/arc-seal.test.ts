/**
 * ARC sealing of forwarded mail (RFC 8617): what our MX checked on arrival is sealed by the
 * forwarding domain, and the next receiver finds a valid chain (arc=pass) that says DMARC passed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arcSeal } from '../src/arc-seal.js';
import { ensureDomainKeys } from '../src/dkim-keys.js';
import { checkInbound } from '../src/inbound.js';
import { signMessage } from '../src/sign.js';
import { message, testConfig } from './fixtures.js';
import { zoneLookup, type ZoneData } from './zone.js';

let config: ReturnType<typeof testConfig>['config'];
let cleanup: () => void;
const zone: ZoneData = {};

beforeAll(() => {
  ({ config, cleanup } = testConfig('mx.b.test'));
  const a = ensureDomainKeys(config, 'a.test').keys;
  const b = ensureDomainKeys(config, 'b.test').keys;
  Object.assign(zone, {
    'a.test': { TXT: [['v=spf1 ip4:192.0.2.1 -all']] },
    '_dmarc.a.test': { TXT: [['v=DMARC1; p=reject']] },
    'postern._domainkey.a.test': { TXT: [[`v=DKIM1; k=rsa; p=${a[0]!.publicKey}`]] },
    'b.test': { TXT: [['v=spf1 ip4:198.51.100.2 -all']] },
    'postern._domainkey.b.test': { TXT: [[`v=DKIM1; k=rsa; p=${b[0]!.publicKey}`]] },
  });
});
afterAll(() => cleanup());

describe('arcSeal', () => {
  it('seals with our Authentication-Results; the next hop validates the chain', async () => {
    const sent = await signMessage(message({ From: 'Alice <alice@a.test>', To: 'bob@b.test', Subject: 'Hi', 'Message-ID': '<1@a.test>' }), {
      config,
      domain: 'a.test',
    });
    const resolver = zoneLookup(zone);
    const arrival = await checkInbound({ raw: sent, ip: '192.0.2.1', helo: 'a.test', mailFrom: 'alice@a.test', hostname: 'mx.b.test', resolver });
    expect(arrival.dmarc).toBe('pass');
    const stored = Buffer.concat([Buffer.from(`${arrival.header}\r\n`), sent]);
    const sealed = await arcSeal(stored, { config, domain: 'b.test', hostname: 'mx.b.test' });
    const head = sealed.subarray(0, sealed.indexOf('\r\n\r\n')).toString();
    expect(head).toMatch(/^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none; d=b\.test; s=postern;/);
    expect(head).toMatch(/ARC-Authentication-Results: i=1; mx\.b\.test; .*dmarc=pass/s);
    // the next receiver: the forward comes from b.test's IP with an SRS sender of b.test
    const next = await checkInbound({
      raw: sealed,
      ip: '198.51.100.2',
      helo: 'mx.b.test',
      mailFrom: 'SRS0=abcd=xy=a.test=alice@b.test',
      hostname: 'mx.c.test',
      resolver,
    });
    expect([next.spf, next.arc, next.dmarc, next.verdict]).toEqual(['pass', 'pass', 'pass', 'accept']);
  });

  it('leaves the message alone when the domain has no key', async () => {
    const raw = message({ From: 'x@a.test', Subject: 's' });
    expect(await arcSeal(raw, { config, domain: 'nokeys.test', hostname: 'mx.b.test' })).toBe(raw);
  });
});
