import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

function write(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'postern-config-'));
  const file = join(dir, 'postern.toml');
  writeFileSync(file, text);
  return file;
}

function refusal(text: string): ConfigError {
  const file = write(text);
  try {
    loadConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message.startsWith(file)).toBe(true);
    return err as ConfigError;
  }
  throw new Error('config was accepted');
}

describe('config', () => {
  it('loads the documented keys and resolves paths against the file', () => {
    const file = write(`
hostname = "mail.example.org"
data_dir = "var"
[listen]
smtp = "0.0.0.0:25"
lmtp = "/run/postern/lmtp.sock"
imaps = "[::1]:993"
[tls]
cert = "tls/cert.pem"
key = "/etc/ssl/key.pem"
[dns]
servers = ["127.0.0.1:5353"]
[transfer]
smarthost = ""
routes = { "example.net" = "127.0.0.2:2525" }
retry_initial = "1s"
[limits]
message_size = 1000
`);
    const c = loadConfig(file);
    expect(c.hostname).toBe('mail.example.org');
    expect(c.dataDir).toBe(join(file, '..', 'var'));
    expect(c.tlsCert).toBe(join(file, '..', 'tls/cert.pem'));
    expect(c.tlsKey).toBe('/etc/ssl/key.pem');
    expect(c.listen.imaps).toBe('[::1]:993');
    expect(c.listen.submission).toBeUndefined();
    expect(c.transfer.routes).toEqual({ 'example.net': '127.0.0.2:2525' });
    expect(c.transfer.retry_initial).toBe(1000);
    expect(c.transfer.queue_lifetime).toBe(5 * 86_400_000);
    expect(c.limits.message_size).toBe(1000);
    expect(c.limits.recipients).toBe(100);
    expect(c.profile).toBe('production');
  });

  it('names the key, what was expected and what was found', () => {
    const e1 = refusal('hostname = "mail.example.org"\n[limits]\nmessage_size = "big"\n');
    expect(e1.key).toBe('limits.message_size');
    expect(e1.message).toMatch(/expected .*positive integer.*found "big"/);

    const e2 = refusal('hostname = "mail.example.org"\n[listen]\nsmtp = "25"\n');
    expect(e2.key).toBe('listen.smtp');
    expect(e2.message).toMatch(/host:port/);

    const e3 = refusal('hostname = "not a host"\n');
    expect(e3.key).toBe('hostname');
    expect(e3.found).toBe('"not a host"');

    const e4 = refusal('hostname = "a.b"\n[transfer]\nretry_initial = "soon"\n');
    expect(e4.key).toBe('transfer.retry_initial');
    expect(e4.message).toMatch(/duration/);

    const e5 = refusal('hostname = "a.b"\nprofile = "fast"\n');
    expect(e5.message).toMatch(/"production", "development"/);

    const e6 = refusal('hostname = "a.b"\n[limits]\nmessage_sise = 5\n');
    expect(e6.key).toBe('limits.message_sise');
    expect(e6.message).toMatch(/unknown key/);

    const e7 = refusal('[listen]\n');
    expect(e7.key).toBe('hostname');
    expect(e7.found).toBe('nothing');

    const e8 = refusal('hostname = "a.b"\n[limits\n');
    expect(e8.message).toMatch(/valid TOML/);

    const e9 = refusal('hostname = "a.b"\n[webmail]\ntrusted_proxies = ["127.0.0.1", "proxy.example"]\n');
    expect(e9.key).toBe('webmail.trusted_proxies.1');
    expect(e9.message).toMatch(/an IP address/);

    const e10 = refusal('hostname = "a.b"\n[auth]\nknown_source_lifetime = "forever"\n');
    expect(e10.key).toBe('auth.known_source_lifetime');
  });

  it('reports a missing file by name', () => {
    expect(() => loadConfig('/nonexistent/postern.toml')).toThrow(/\/nonexistent\/postern.toml.*ENOENT/);
  });
});

describe('sendmail, admin and smarthost settings', () => {
  it('defaults: origin is the host name, the maildrop sits beside the config, smarthost TLS "auto"', () => {
    const file = write('hostname = "Mail.Example.org"\n');
    const c = loadConfig(file);
    expect(c.origin).toBe('mail.example.org');
    expect(c.maildropDir).toBe(join(file, '..', 'maildrop'));
    expect(c.admin).toBe('');
    expect(c.transfer.smarthost_tls).toBe('auto');
    expect(c.transfer.smarthost_ca).toBe('');
  });

  it('resolves the CA and credentials files against the config and takes a given origin', () => {
    const file = write(
      'hostname = "mail.example.org"\n[sendmail]\norigin = "example.org"\n[transfer]\nsmarthost_ca = "ca.pem"\nsmarthost_auth_file = "/etc/postern/relay"\n',
    );
    const c = loadConfig(file);
    expect(c.origin).toBe('example.org');
    expect(c.transfer.smarthost_ca).toBe(join(file, '..', 'ca.pem'));
    expect(c.transfer.smarthost_auth_file).toBe('/etc/postern/relay');
  });

  it('refuses a bad origin, admin or smarthost_tls with the key', () => {
    expect(refusal('hostname = "h.example"\n[sendmail]\norigin = "not a host"\n').key).toBe('sendmail.origin');
    expect(refusal('hostname = "h.example"\nadmin = "nobody"\n').key).toBe('admin');
    expect(refusal('hostname = "h.example"\n[transfer]\nsmarthost_tls = "maybe"\n').key).toBe('transfer.smarthost_tls');
  });
});
