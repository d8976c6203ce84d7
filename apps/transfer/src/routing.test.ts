import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configFromObject } from '@postern/core';
import { smarthostOf } from './routing.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-routing-'));
const config = (transfer: Record<string, unknown>) => configFromObject({ hostname: 'mail.example.org', transfer }, join(dir, 'postern.toml'));

describe('the smarthost hop', () => {
  it('"auto": verified STARTTLS required on a public address, opportunistic on a private one', () => {
    expect(smarthostOf(config({ smarthost: 'relay.example.net:587' }))).toMatchObject({ tls: 'starttls', verify: true });
    expect(smarthostOf(config({ smarthost: '203.0.113.9:25' }))).toMatchObject({ tls: 'starttls', verify: true });
    for (const host of ['127.0.0.1', '10.1.2.3', '172.16.0.9', '192.168.1.1', 'localhost', '[fd00::25]']) {
      expect(smarthostOf(config({ smarthost: `${host}:25` })), host).toMatchObject({ tls: 'opportunistic', verify: false });
    }
    expect(smarthostOf(config({}))).toBeNull();
  });

  it('a private CA makes the opportunistic TLS verified; credentials come from the file', () => {
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n');
    writeFileSync(join(dir, 'auth'), 'relay-user:pass:with:colons\nignored\n');
    const hop = smarthostOf(config({ smarthost: '192.168.1.5:25', smarthost_ca: 'ca.pem', smarthost_auth_file: 'auth' }));
    expect(hop).toMatchObject({ tls: 'opportunistic', verify: true, auth: { user: 'relay-user', pass: 'pass:with:colons' } });
    expect(hop?.ca).toMatch(/BEGIN CERTIFICATE/);
  });

  it('a missing or malformed file is a ConfigError naming the key', () => {
    expect(() => smarthostOf(config({ smarthost: 'r.example:25', smarthost_ca: 'nope.pem' }))).toThrow(ConfigError);
    expect(() => smarthostOf(config({ smarthost: 'r.example:25', smarthost_ca: 'nope.pem' }))).toThrow(/transfer\.smarthost_ca/);
    writeFileSync(join(dir, 'bad-auth'), 'no colon here\n');
    expect(() => smarthostOf(config({ smarthost: 'r.example:25', smarthost_auth_file: 'bad-auth' }))).toThrow(/transfer\.smarthost_auth_file/);
  });
});
