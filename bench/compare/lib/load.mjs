// The SMTP loads the comparison runs, the same against every system:
// - `ownLoad`: C kept connections (nodemailer's pool, one transaction at a time each, like an
//   MTA's outbound connection cache), N messages round robin to the users; the time from MAIL to
//   the final 250 of each message gives p50/p99.
// - `smtpSourceLoad`: Postfix's smtp-source (-s C sessions, -m N messages, -l SIZE bytes).
import { spawn } from 'node:child_process';
import nodemailer from 'nodemailer';

const LINE = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n';

export function message(i, to, size) {
  const head =
    `From: Sender <sender@outside.example>\r\nTo: <${to}>\r\nSubject: bench ${i}\r\n` +
    `Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <bench-${i}@outside.example>\r\nMIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=us-ascii\r\n\r\n`;
  return head + LINE.repeat(Math.max(1, Math.ceil((size - head.length) / LINE.length)));
}

/** Resolves when every message was answered; returns accepted count and latencies (ms). */
export async function ownLoad({ port, users, n, c, size }) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    pool: true,
    maxConnections: c,
    maxMessages: Infinity,
    ignoreTLS: true,
    socketTimeout: 120_000,
  });
  const latencies = [];
  let accepted = 0;
  let failed = 0;
  let next = 0;
  const bodies = users.map((u) => message(0, u, size));
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) {
        const i = next++;
        const to = users[i % users.length];
        const start = performance.now();
        try {
          const info = await transport.sendMail({
            envelope: { from: 'sender@outside.example', to: [to] },
            raw: bodies[i % users.length].replace('bench 0', `bench ${i}`),
          });
          latencies.push(performance.now() - start);
          if (info.accepted.length === 1) accepted++;
          else failed++;
        } catch {
          failed++;
        }
      }
    }),
  );
  transport.close();
  return { accepted, failed, latencies };
}

/** smtp-source from Debian's postfix package; returns the accepted count (smtp-source stops at an error). */
export function smtpSourceLoad({ port, users, n, c, size }) {
  return new Promise((resolve, reject) => {
    // -c: count to stderr; -s sessions in parallel; -m messages in all; -l message length; one
    // recipient per message (the first user: smtp-source sends every message to the same -t)
    const args = [
      '-s',
      String(c),
      '-m',
      String(n),
      '-l',
      String(size),
      '-f',
      'sender@outside.example',
      '-t',
      users[0],
      '-M',
      'load.example',
      `127.0.0.1:${port}`,
    ];
    const child = spawn('/usr/sbin/smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve({ accepted: n, failed: 0, latencies: [] }) : reject(new Error(`smtp-source exited ${code}: ${err.slice(-500)}`)),
    );
  });
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
