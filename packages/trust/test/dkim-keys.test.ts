import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createPublicKey, createPrivateKey, verify, sign } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { dkimKeyDir, dkimTxtValue, ensureDomainKeys, loadDomainKeys } from '../src/dkim-keys.js';
import { testConfig } from './fixtures.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('DKIM keys', () => {
  it('makes an RSA 2048 and an Ed25519 key per domain, private (0600), and reuses them', () => {
    const { config, cleanup } = testConfig('mail.a.test');
    cleanups.push(cleanup);
    expect(loadDomainKeys(config, 'a.test')).toEqual([]);
    const first = ensureDomainKeys(config, 'A.Test.');
    expect(first.created).toEqual(['rsa', 'ed25519']);
    const [rsa, ed] = first.keys;
    expect(rsa!.path).toBe(`${config.dataDir}/dkim/a.test/postern.rsa.pem`);
    expect(ed!.path).toBe(`${config.dataDir}/dkim/a.test/postern.ed25519.pem`);
    expect(rsa!.selector).toBe('postern');
    expect(ed!.selector).toBe('postern-ed25519');
    expect(createPrivateKey(rsa!.privateKeyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
    for (const k of first.keys) expect(statSync(k.path).mode & 0o777).toBe(0o600);
    expect(statSync(dkimKeyDir(config, 'a.test')).mode & 0o777).toBe(0o700);

    const again = ensureDomainKeys(config, 'a.test');
    expect(again.created).toEqual([]);
    expect(again.keys.map((k) => k.privateKeyPem)).toEqual(first.keys.map((k) => k.privateKeyPem));
    expect(loadDomainKeys(config, 'a.test').map((k) => k.publicKey)).toEqual(first.keys.map((k) => k.publicKey));
  });

  it("publishes public keys that verify the private keys' signatures", () => {
    const { config, cleanup } = testConfig('mail.a.test');
    cleanups.push(cleanup);
    const [rsa, ed] = ensureDomainKeys(config, 'a.test').keys;
    expect(dkimTxtValue(rsa!)).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
    // RFC 8463 §4.2: the Ed25519 p= is the bare 32-byte key
    expect(Buffer.from(ed!.publicKey, 'base64').length).toBe(32);
    const data = Buffer.from('canonicalized header');
    const rsaPub = createPublicKey({ key: Buffer.from(rsa!.publicKey, 'base64'), format: 'der', type: 'spki' });
    expect(verify('sha256', data, rsaPub, sign('sha256', data, rsa!.privateKeyPem))).toBe(true);
    const edPub = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(ed!.publicKey, 'base64')]),
      format: 'der',
      type: 'spki',
    });
    expect(verify(null, data, edPub, sign(null, data, ed!.privateKeyPem))).toBe(true);
  });

  it('always uses the key on disk (never a stale copy), and refuses a key of the wrong type', () => {
    const { config, cleanup } = testConfig('mail.a.test');
    cleanups.push(cleanup);
    const made = ensureDomainKeys(config, 'a.test').keys;
    const other = testConfig('mail.a.test');
    cleanups.push(other.cleanup);
    // the key file replaced (restored from a backup, say): the new one is used, not regenerated
    ensureDomainKeys(other.config, 'a.test');
    writeFileSync(made[0]!.path, readFileSync(`${other.config.dataDir}/dkim/a.test/postern.rsa.pem`));
    expect(ensureDomainKeys(config, 'a.test').keys[0]!.publicKey).not.toBe(made[0]!.publicKey);
    writeFileSync(made[1]!.path, made[0]!.privateKeyPem);
    expect(() => loadDomainKeys(config, 'a.test')).toThrow(/expected a ed25519 key, found rsa/);
  });

  it('refuses a domain that is not a domain (no path tricks)', () => {
    const { config, cleanup } = testConfig('mail.a.test');
    cleanups.push(cleanup);
    expect(() => ensureDomainKeys(config, '../../etc')).toThrow();
    expect(existsSync(`${config.dataDir}/etc`)).toBe(false);
  });

  it('uses the configured selector', () => {
    const { config, cleanup } = testConfig('mail.a.test', { dkim: { selector: 's2026' } });
    cleanups.push(cleanup);
    const keys = ensureDomainKeys(config, 'a.test').keys;
    expect(keys.map((k) => k.selector)).toEqual(['s2026', 's2026-ed25519']);
    expect(keys[0]!.path.endsWith('/s2026.rsa.pem')).toBe(true);
  });
});
