/**
 * A Dovecot IMAP server (Debian's dovecot-imapd) on 127.0.0.1 from a temporary directory, with
 * passwd-file users and Maildir storage: the system's /etc/dovecot is read by nothing and changed
 * by nothing. The import tests fill it as another mail server and read it back.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isExecutable, requirement, rootNeed } from '@postern/testkit';
import { freePort, portOpen, waitFor } from './instance.js';

const DOVECOT = '/usr/sbin/dovecot';

/** Whether `suite` can run a Dovecot here; a loud skip (see @postern/testkit) when not. */
export function dovecotMissing(suite: string): boolean {
  return (
    requirement(suite, [
      { what: 'dovecot', ok: isExecutable(DOVECOT), install: 'apt-get install dovecot-imapd' },
      rootNeed('root (Dovecot drops privileges to nobody)'),
      { what: 'a user nobody', ok: spawnSync('id', ['nobody'], { stdio: 'ignore' }).status === 0, install: 'useradd nobody' },
    ]) !== null
  );
}

export interface Dovecot {
  port: number;
  dir: string;
  /** The Maildir of a user. */
  maildir(user: string): string;
  stop(): Promise<void>;
}

/** Starts Dovecot with `users` (address -> password); "Sent Items" is its \Sent, to test the mapping. */
export async function startDovecot(users: Record<string, string>): Promise<Dovecot> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-dovecot-src-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'mail'));
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'nobody']).stdout.toString().trim());
  chownSync(join(dir, 'mail'), id('-u'), id('-g'));
  writeFileSync(
    join(dir, 'passwd'),
    Object.entries(users)
      .map(([u, p]) => `${u}:{PLAIN}${p}::::::\n`)
      .join(''),
  );
  const port = await freePort();
  const box = (name: string, use: string): string => `  mailbox "${name}" {\n    special_use = \\${use}\n    auto = subscribe\n  }\n`;
  writeFileSync(
    join(dir, 'dovecot.conf'),
    `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
instance_name = postern-import-${port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
first_valid_uid = 1
mail_location = maildir:${dir}/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/mail/%u
}
namespace inbox {
  inbox = yes
  separator = /
${box('Sent Items', 'Sent')}${box('Drafts', 'Drafts')}${box('Trash', 'Trash')}}
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
`,
  );
  // The master daemonizes: no pipes, or spawnSync would wait for the daemon's end.
  const started = spawnSync(DOVECOT, ['-c', join(dir, 'dovecot.conf')], { stdio: 'ignore', timeout: 10_000 });
  if (started.status !== 0) throw new Error(`dovecot did not start (exit ${started.status}); see ${dir}/dovecot.log`);
  await waitFor(() => portOpen(port), 10_000, 'dovecot');
  return {
    port,
    dir,
    maildir: (user) => join(dir, 'mail', user),
    async stop() {
      try {
        process.kill(Number(readFileSync(join(dir, 'run', 'master.pid'), 'utf8').trim()), 'SIGTERM');
      } catch {
        // already gone
      }
      await waitFor(async () => !(await portOpen(port)), 10_000, 'dovecot to stop').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
