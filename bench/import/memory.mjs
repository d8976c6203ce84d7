// Memory and rate of `postern import imap://` against Dovecot (Debian's dovecot-imapd, on loopback,
// from a temporary directory): Dovecot's Maildir is filled on disk with N messages (4 KiB each,
// every 50th with a 200 KiB attachment), then the built `postern` imports them; GNU time reports
// the import process's peak resident set. Prints one line per N, as JSON too. Needs root.
//
//   sudo node bench/import/memory.mjs --messages 2000,20000
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const counts = arg('messages', '2000,20000').split(',').map(Number);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const portOpen = (port) =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

function message(i) {
  const head = `From: Sender <s${i % 97}@source.test>\r\nTo: me@source.test\r\nSubject: Bench message ${i} Grüße\r\nMessage-ID: <b${i}@source.test>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n`;
  const text = `${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(60)}\r\n`;
  if (i % 50 === 0) {
    const att = Buffer.alloc(150_000, i % 251)
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n');
    return `${head}Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n${text}--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${att}\r\n--b--\r\n`;
  }
  return `${head}Content-Type: text/plain; charset=utf-8\r\n\r\n${text}`;
}

async function runOne(n) {
  const dir = mkdtempSync(join(tmpdir(), 'postern-bench-import-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const mail = join(dir, 'mail', 'me@source.test');
  const folders = ['', '.Archive', '.Projekte.Berichte'];
  for (const f of folders) for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(mail, f, sub), { recursive: true });
  for (let i = 1; i <= n; i++) writeFileSync(join(mail, folders[i % 3], 'cur', `${1700000000 + i}.M${i}P1.bench:2,${i % 2 ? 'S' : ''}`), message(i));
  const uid = Number(execFileSync('id', ['-u', 'nobody']).toString());
  const gid = Number(execFileSync('id', ['-g', 'nobody']).toString());
  execFileSync('chown', ['-R', `${uid}:${gid}`, join(dir, 'mail')]);
  chownSync(join(dir, 'mail'), uid, gid);
  writeFileSync(join(dir, 'passwd'), 'me@source.test:{PLAIN}pw::::::\n');
  writeFileSync(
    join(dir, 'dovecot.conf'),
    `base_dir = ${dir}/run\nstate_dir = ${dir}/state\nlog_path = ${dir}/dovecot.log\ninstance_name = bench-import-${port}\nprotocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain\nfirst_valid_uid = 1\nmail_location = maildir:${dir}/mail/%u\npassdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u ${dir}/passwd\n}\nuserdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=${dir}/mail/%u\n}\nnamespace inbox {\n  inbox = yes\n  separator = /\n}\nservice imap-login {\n  inet_listener imap {\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\nservice stats {\n  unix_listener stats-reader {\n    mode = 0666\n  }\n  unix_listener stats-writer {\n    mode = 0666\n  }\n}\n`,
  );
  spawnSync('/usr/sbin/dovecot', ['-c', join(dir, 'dovecot.conf')], { stdio: 'ignore' });
  for (let t = 0; t < 200 && !(await portOpen(port)); t++) await new Promise((r) => setTimeout(r, 50));
  const config = join(dir, 'postern', 'postern.toml');
  mkdirSync(join(dir, 'postern'));
  const run = (args, input) => spawnSync(process.execPath, [bin, '--config', config, ...args], { input, encoding: 'utf8' });
  run(['init', '--dev', '--domain', 'bench.test']);
  run(['user', 'add', 'me@bench.test', '--password-stdin'], 'bench-password\n');
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      '%M %e',
      process.execPath,
      bin,
      '--config',
      config,
      'import',
      `imap://me%40source.test@127.0.0.1:${port}`,
      '--user',
      'me@bench.test',
      '--tls',
      'none',
      '--password-stdin',
      '--quiet',
    ],
    { input: 'pw\n', encoding: 'utf8' },
  );
  if (!/imported/.test(r.stdout)) console.error(r.stdout, r.stderr, readFileSync(join(dir, 'dovecot.log'), 'utf8').split('\n').slice(-8).join('\n'));
  const [kib, seconds] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  const imported = /imported (\d+) messages \(([^)]+)\)/.exec(r.stdout);
  const result = {
    messages: n,
    imported: Number(imported?.[1] ?? 0),
    size: imported?.[2],
    seconds,
    rate: Math.round(n / seconds),
    peakRssMiB: Math.round(kib / 1024),
  };
  try {
    process.kill(Number(readFileSync(join(dir, 'run', 'master.pid'), 'utf8')), 'SIGTERM');
  } catch {}
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
  return result;
}

for (const n of counts) {
  const r = await runOne(n);
  console.log(`${r.messages} messages (${r.size}): imported ${r.imported} in ${r.seconds} s, ${r.rate} msg/s, peak RSS ${r.peakRssMiB} MiB`);
  console.log(JSON.stringify(r));
}
