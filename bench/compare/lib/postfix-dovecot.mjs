// Postfix (MTA, from Debian's postfix package) in front of Dovecot LMTP (dovecot-lmtpd), both on
// loopback only, each in its own configuration under a temporary directory: the system's own
// /etc/postfix and /etc/dovecot are read by nothing and changed by nothing. `stop()` stops both
// and removes the directory.
//
// Postfix: smtpd on 127.0.0.1:PORT, virtual domain bench.test, every message relayed over LMTP
// to Dovecot. Dovecot: LMTP on 127.0.0.1:PORT and IMAP on 127.0.0.1:PORT, maildir per user,
// passwords in a passwd-file. Mostly defaults: where a default would refuse the benchmark itself
// (connections per client, processes), the setting says why.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export function available() {
  const missing = ['/usr/sbin/postfix', '/usr/sbin/dovecot', '/usr/lib/dovecot/lmtp', '/usr/lib/dovecot/imap'].filter((f) => !existsSync(f));
  if (process.getuid?.() !== 0) return 'needs root (Postfix and Dovecot drop privileges to their own users)';
  if (missing.length) return `missing ${missing.join(', ')}: apt-get install postfix dovecot-imapd dovecot-lmtpd`;
  return null;
}

const idOf = (flag, name) => Number(execFileSync('id', [flag, name]).toString().trim());

/**
 * Runs a command that starts a daemon. Its output goes to `log`, never to a pipe: the daemon
 * inherits the descriptors, and a pipe would stay open (and a synchronous caller wait) forever.
 */
function runDaemonCommand(cmd, args, log) {
  const fd = openSync(log, 'a');
  try {
    const r = spawnSync(cmd, args, { stdio: ['ignore', fd, fd] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${readFileSync(log, 'utf8').slice(-2000)}`);
  } finally {
    closeSync(fd);
  }
}

function dovecotConf(dir, ports, extra) {
  return `base_dir = ${dir}/dovecot/run
state_dir = ${dir}/dovecot/state
log_path = ${dir}/dovecot/dovecot.log
instance_name = bench-${ports.lmtp}
protocols = lmtp imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
# no login penalty for the loopback benchmark client
login_trusted_networks = 127.0.0.0/8
auth_failure_delay = 0
# the IDLE benchmark opens many connections as one user from one address (default 10)
mail_max_userip_connections = 20000
first_valid_uid = 1
mail_location = maildir:${dir}/dovecot/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/dovecot/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/dovecot/mail/%u allow_all_users=yes
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${ports.lmtp}
  }
  unix_listener lmtp {
    mode = 0
  }
}
service imap-login {
  inet_listener imap {
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = 0
  }
  # one login process per connection by default; the IDLE test opens thousands
  process_limit = 20000
}
service imap {
  process_limit = 20000
}
default_process_limit = 20000
default_client_limit = 40000
service anvil {
  client_limit = 40000
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  client_limit = 40000
}
service stats {
  client_limit = 40000
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
${extra ?? ''}
`;
}

function postfixMainCf(dir, ports) {
  return `compatibility_level = 3.6
queue_directory = ${dir}/postfix/queue
data_directory = ${dir}/postfix/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.bench.test
mydomain = bench.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP
# no DNS for anything (the benchmark runs offline)
disable_dns_lookups = yes
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
biff = no
# every recipient in bench.test is a mailbox at Dovecot, over LMTP
virtual_mailbox_domains = bench.test
virtual_mailbox_maps = texthash:${dir}/postfix/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:${ports.lmtp}
# C=100 from one client needs 100 smtpd processes (the default process limit is 100)
default_process_limit = 250
message_size_limit = 26214400
# (no maillog_file: with it, "postfix start" cannot log before postlogd runs and fails silently)
`;
}

function postfixMasterCf(ports) {
  // chroot off: the instance lives in a temp dir without the files a chroot needs
  return `127.0.0.1:${ports.smtp} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;
}

/**
 * Starts Dovecot (LMTP + IMAP) and, unless `postfix: false`, Postfix in front of it.
 * Users are user0..user{n-1}@bench.test with `password`.
 */
export async function startPostfixDovecot({ users = 10, password = 'bench-password', postfix = true, dovecotExtra } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-postfix-dovecot-'));
  chmodSync(dir, 0o755);
  const ports = { smtp: await freePort(), lmtp: await freePort(), imap: await freePort() };
  const names = Array.from({ length: users }, (_, i) => `user${i}@bench.test`);
  const nobody = { uid: idOf('-u', 'nobody'), gid: idOf('-g', 'nobody') };

  mkdirSync(join(dir, 'dovecot', 'mail'), { recursive: true });
  chownSync(join(dir, 'dovecot', 'mail'), nobody.uid, nobody.gid);
  writeFileSync(join(dir, 'dovecot', 'passwd'), names.map((u) => `${u}:{PLAIN}${password}::::::`).join('\n') + '\n');
  const dconf = join(dir, 'dovecot', 'dovecot.conf');
  writeFileSync(dconf, dovecotConf(dir, ports, dovecotExtra));
  runDaemonCommand('/usr/sbin/dovecot', ['-c', dconf], join(dir, 'dovecot', 'start.log'));

  let pconf = null;
  if (postfix) {
    pconf = join(dir, 'postfix', 'etc');
    mkdirSync(pconf, { recursive: true });
    mkdirSync(join(dir, 'postfix', 'queue'), { recursive: true });
    mkdirSync(join(dir, 'postfix', 'data'), { recursive: true });
    chownSync(join(dir, 'postfix', 'data'), idOf('-u', 'postfix'), idOf('-g', 'postfix'));
    writeFileSync(join(pconf, 'main.cf'), postfixMainCf(dir, ports));
    writeFileSync(join(pconf, 'master.cf'), postfixMasterCf(ports));
    writeFileSync(join(dir, 'postfix', 'vmailbox'), names.map((u) => `${u} ok`).join('\n') + '\n');
    // `postfix -c DIR start` creates the queue directories with their owners and modes
    runDaemonCommand('/usr/sbin/postfix', ['-c', pconf, 'start'], join(dir, 'postfix', 'start.log'));
  }

  const waitPort = async (port) => {
    for (let i = 0; i < 200; i++) {
      const ok = await new Promise((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nothing listens on ${port}`);
  };
  await waitPort(ports.lmtp);
  await waitPort(ports.imap);
  if (postfix) await waitPort(ports.smtp);

  const pidFile = (f) => {
    try {
      return Number(readFileSync(f, 'utf8').trim());
    } catch {
      return null;
    }
  };
  return {
    dir,
    ports,
    users: names,
    password,
    /** Root pids of the process trees (Postfix master, Dovecot master). */
    roots: () => ({
      postfix: postfix ? [pidFile(join(dir, 'postfix', 'queue', 'pid', 'master.pid'))].filter(Boolean) : [],
      dovecot: [pidFile(join(dir, 'dovecot', 'run', 'master.pid'))].filter(Boolean),
    }),
    /** Messages sitting in the users' maildirs (new/ and cur/). */
    delivered() {
      let n = 0;
      for (const u of names) {
        for (const sub of ['new', 'cur']) {
          try {
            n += readdirSync(join(dir, 'dovecot', 'mail', u, 'Maildir', sub)).length;
          } catch {
            try {
              n += readdirSync(join(dir, 'dovecot', 'mail', u, sub)).length;
            } catch {
              // no mail yet
            }
          }
        }
      }
      return n;
    },
    maildir: (user) => join(dir, 'dovecot', 'mail', user),
    doveadm: (...args) => spawnSync('/usr/bin/doveadm', ['-c', dconf, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    async stop() {
      if (postfix) spawnSync('/usr/sbin/postfix', ['-c', pconf, 'stop'], { stdio: 'ignore' });
      spawnSync('/usr/bin/doveadm', ['-c', dconf, 'stop'], { stdio: 'ignore' });
      // wait for both masters to go
      for (let i = 0; i < 100; i++) {
        const r = this.roots();
        const alive = [...r.postfix, ...r.dovecot].filter((p) => existsSync(`/proc/${p}`));
        if (alive.length === 0) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}
