/**
 * A private Postfix instance on loopback for interop tests (Debian's `postfix`; SMTP AUTH also
 * needs `sasl2-bin` and `libsasl2-modules`): its own config, queue and log under a temp
 * directory, smtpd on a given port, and everything it accepts relayed to `relayhost`. Needs root
 * (Postfix's master runs as root and drops to the postfix user).
 *
 *   const pf = await startPostfix({ port, relayhost: `127.0.0.1:${sinkPort}`, tls: { cert, key } });
 *   ... await pf.stop();
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { portOpen, waitFor } from './instance.js';

export interface PostfixOptions {
  port: number;
  /** "host:port" that Postfix relays everything to. */
  relayhost: string;
  /** Offer STARTTLS with this PEM pair. */
  tls?: { cert: string; key: string };
  /** Require SMTP AUTH (Cyrus sasldb, PLAIN/LOGIN) for relaying, with this one account. */
  auth?: { user: string; password: string };
}

export interface Postfix {
  dir: string;
  port: number;
  log(): string;
  stop(): Promise<void>;
}

export async function startPostfix(o: PostfixOptions): Promise<Postfix> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-postfix-'));
  chmodSync(dir, 0o755); // Postfix's daemons run as the postfix user
  const etc = join(dir, 'etc');
  mkdirSync(etc);
  mkdirSync(join(dir, 'spool'));
  mkdirSync(join(dir, 'data'));
  const uid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim());
  chownSync(join(dir, 'data'), uid, 0);
  const master = readFileSync('/etc/postfix/master.cf', 'utf8').replace(/^smtp\s+inet\s.*$/m, `127.0.0.1:${o.port} inet n - n - - smtpd`);
  writeFileSync(join(etc, 'master.cf'), master);
  const lines = [
    'compatibility_level = 3.6',
    `queue_directory = ${dir}/spool`,
    `data_directory = ${dir}/data`,
    'myhostname = relay.test',
    'mydestination =',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    `relayhost = [${o.relayhost.replace(/:\d+$/, '')}]:${o.relayhost.replace(/^.*:/, '')}`,
    `maillog_file_prefixes = ${dir}`,
    `maillog_file = ${dir}/maillog`,
    'smtp_tls_security_level = none',
    'smtpd_tls_received_header = yes',
    'smtputf8_enable = no',
    'alias_maps =',
    'alias_database =',
  ];
  if (o.tls) {
    copyFileSync(o.tls.cert, join(etc, 'cert.pem'));
    copyFileSync(o.tls.key, join(etc, 'key.pem'));
    lines.push(`smtpd_tls_cert_file = ${etc}/cert.pem`, `smtpd_tls_key_file = ${etc}/key.pem`, 'smtpd_tls_security_level = may');
  }
  if (o.auth) {
    // Debian's Postfix reads $config_directory/sasl/smtpd.conf
    const sasl = join(etc, 'sasl');
    mkdirSync(sasl);
    const db = join(sasl, 'sasldb2');
    execFileSync('saslpasswd2', ['-f', db, '-c', '-p', '-u', 'relay.test', o.auth.user], { input: o.auth.password });
    chownSync(db, uid, 0);
    writeFileSync(join(sasl, 'smtpd.conf'), `pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: ${db}\n`);
    // relaying only for authenticated clients: loopback is not "mynetworks" here
    lines.push(
      'mynetworks = 127.0.0.2/32',
      'smtpd_sasl_auth_enable = yes',
      'smtpd_sasl_authenticated_header = yes',
      'smtpd_sasl_type = cyrus',
      `cyrus_sasl_config_path = ${sasl}`,
      'smtpd_sasl_local_domain = relay.test',
      'smtpd_relay_restrictions = permit_sasl_authenticated, reject',
    );
  } else {
    lines.push('mynetworks = 127.0.0.0/8');
  }
  writeFileSync(join(etc, 'main.cf'), `${lines.join('\n')}\n`);
  const log = (): string => {
    try {
      return readFileSync(join(dir, 'maillog'), 'utf8');
    } catch {
      return '';
    }
  };
  const started = spawnSync('postfix', ['-c', etc, 'start'], { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`postfix start failed (${started.status}): ${started.stdout}${started.stderr}${log()}`);
  await waitFor(() => portOpen(o.port), 20_000, `postfix on 127.0.0.1:${o.port}`);
  return {
    dir,
    port: o.port,
    log,
    async stop(): Promise<void> {
      spawnSync('postfix', ['-c', etc, 'stop'], { encoding: 'utf8' });
      await waitFor(async () => !(await portOpen(o.port)), 20_000, 'postfix to stop');
      if (!process.env['POSTERN_KEEP_TEST_DIRS']) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A private CA and a certificate it signed for `name` (openssl), as PEM files in `dir`. */
export function privateCa(dir: string, name: string): { ca: string; cert: string; key: string } {
  const p = (f: string): string => join(dir, f);
  const ssl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe' });
  };
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca-key.pem'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=Postern Test CA']);
  ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('server-key.pem'), '-out', p('server.csr'), '-subj', `/CN=${name}`]);
  writeFileSync(p('ext.cnf'), `subjectAltName=DNS:${name}\n`);
  ssl([
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.pem'),
    '-CAkey',
    p('ca-key.pem'),
    '-CAcreateserial',
    '-out',
    p('server.pem'),
    '-days',
    '2',
    '-extfile',
    p('ext.cnf'),
  ]);
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server-key.pem') };
}
