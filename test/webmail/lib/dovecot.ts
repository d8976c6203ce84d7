/**
 * Interop backend: the webmail in front of Dovecot (Debian's dovecot-imapd, run on loopback from
 * a temp directory) and a stand-in submission server (smtp-server) that hands each message to
 * Dovecot by IMAP APPEND. It shows the webmail is a plain IMAP client that works against another
 * standards-following server. Used only where `dovecot` is installed.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { SMTPServer } from 'smtp-server';
import { ensureCertificate } from '@postern/core';
import { isExecutable, requirement, rootNeed } from '@postern/testkit';
import { freePort, portOpen, waitFor } from '../../lib/instance.js';
import type { Backend, User } from './backend.js';
import { startWebmailOnFreePort } from './postern.js';

const DOVECOT = '/usr/sbin/dovecot';

/** Whether the Dovecot interop suite `suite` can run here; a loud skip (see @postern/testkit) when not. */
export function dovecotAvailable(suite: string): boolean {
  return (
    requirement(suite, [
      { what: 'dovecot', ok: isExecutable(DOVECOT), install: 'apt-get install dovecot-imapd' },
      rootNeed('root (Dovecot drops privileges to nobody)'),
      { what: 'a user nobody', ok: spawnSync('id', ['nobody'], { stdio: 'ignore' }).status === 0, install: 'useradd nobody' },
    ]) === null
  );
}

function dovecotConfig(dir: string, port: number, passwd: string): string {
  const box = (name: string): string => `  mailbox ${name} {\n    special_use = \\${name}\n    auto = subscribe\n  }\n`;
  return `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
# no growing penalty for the loopback test client
login_trusted_networks = 127.0.0.0/8
first_valid_uid = 1
mail_location = maildir:${dir}/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${passwd}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%u
}
namespace inbox {
  inbox = yes
  separator = /
${box('Drafts')}${box('Sent')}${box('Trash')}${box('Junk')}}
service imap-login {
  inet_listener imap {
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
`;
}

export async function dovecotBackend(options: { messageSize?: number } = {}): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-dovecot-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'mail'));
  const nobody = spawnSync('id', ['-u', 'nobody']).stdout.toString().trim();
  chownSync(join(dir, 'mail'), Number(nobody), Number(spawnSync('id', ['-g', 'nobody']).stdout.toString().trim()));
  const me: User = { address: 'me@interop.test', password: 'secret-me' };
  const other: User = { address: 'other@interop.test', password: 'secret-other' };
  const users = new Map([me, other].map((u) => [u.address, u.password]));
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, [...users].map(([u, p]) => `${u}:{PLAIN}${p}::::::\n`).join(''));
  const imapPort = await freePort();
  writeFileSync(join(dir, 'dovecot.conf'), dovecotConfig(dir, imapPort, passwd));
  const conf = join(dir, 'dovecot.conf');
  // The master daemonizes: no pipes, or spawnSync would wait for the daemon's end.
  const started = spawnSync(DOVECOT, ['-c', conf], { stdio: 'ignore', timeout: 10_000 });
  if (started.status !== 0) throw new Error(`dovecot did not start (exit ${started.status}); see ${dir}/dovecot.log`);
  const stopDovecot = (): void => {
    try {
      process.kill(Number(readFileSync(join(dir, 'run', 'master.pid'), 'utf8').trim()), 'SIGTERM');
    } catch {
      // already gone
    }
  };
  await waitFor(() => portOpen(imapPort), 10_000, 'dovecot');

  const messageSize = options.messageSize ?? 2_000_000;
  const smtp = new SMTPServer({
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    size: messageSize,
    onAuth(auth, _s, cb) {
      if (users.get(auth.username ?? '') === auth.password) cb(null, { user: auth.username });
      else cb(new Error('5.7.8 authentication failed'));
    },
    onRcptTo(addr, _s, cb) {
      if (users.has(addr.address.toLowerCase())) return cb();
      cb(Object.assign(new Error('5.1.1 no such user here'), { responseCode: 550 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (stream.sizeExceeded) return cb(Object.assign(new Error('5.3.4 message too big'), { responseCode: 552 }));
        const raw = Buffer.concat(chunks);
        void (async () => {
          for (const r of session.envelope.rcptTo) {
            const c = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: r.address, pass: users.get(r.address)! }, logger: false });
            await c.connect();
            await c.append('INBOX', raw);
            await c.logout();
          }
        })().then(
          () => cb(),
          (err: Error) => cb(err),
        );
      });
    },
  });
  const smtpPort = await freePort();
  await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', () => r()));

  await ensureCertificate(join(dir, 'cert.pem'), join(dir, 'key.pem'), 'localhost');
  const writeWebmailConfig = (file: string, port: number, lifetime: string): void =>
    writeFileSync(
      file,
      `hostname = "localhost"\nprofile = "development"\ndata_dir = "data"\n[listen]\nwebmail = "127.0.0.1:${port}"\n` +
        `[webmail]\nimap = "127.0.0.1:${imapPort}"\nsmtp = "127.0.0.1:${smtpPort}"\nsession_lifetime = "${lifetime}"\n` +
        `[tls]\ncert = "cert.pem"\nkey = "key.pem"\n[limits]\nmessage_size = ${messageSize}\n[auth]\nfailure_delay = "10ms"\nmax_failures_per_account = 3\n`,
    );
  const webmail = await startWebmailOnFreePort((port) => {
    writeWebmailConfig(join(dir, 'postern.toml'), port, '1h');
    return join(dir, 'postern.toml');
  });
  const webmailPort = webmail.port;
  return {
    name: 'dovecot',
    url: `http://127.0.0.1:${webmailPort}`,
    me,
    other,
    imap: { host: '127.0.0.1', port: imapPort },
    smtp: { host: '127.0.0.1', port: smtpPort },
    messageSize,
    refusesUnknownRecipients: true,
    async shortSessionWebmail(ms: number) {
      const w = await startWebmailOnFreePort((port) => {
        writeWebmailConfig(join(dir, 'postern-short.toml'), port, `${ms}ms`);
        return join(dir, 'postern-short.toml');
      });
      return { url: `http://127.0.0.1:${w.port}`, close: () => w.stop() };
    },
    async close() {
      await webmail.stop();
      await new Promise<void>((r) => smtp.close(() => r()));
      stopDovecot();
      await waitFor(async () => !(await portOpen(imapPort)), 10_000, 'dovecot to stop').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
