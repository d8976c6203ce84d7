/**
 * `postern sendmail` as the programs that call /usr/sbin/sendmail call it: mutt (`-oem -oi`),
 * Debian cron (`-i -FCronDaemon -B8BITMIME -oem root`), cronie (`-f root` with `-t`), mail(1)
 * (bsd-mailx) and PHP's mail() (`-t -i`), through links named sendmail, mailq and newaliases,
 * as root (writes queue.db) and as an ordinary user (the maildrop, picked up by transfer).
 * The stored bytes are checked in the recipient's mailbox.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandNeed, requirement, rootNeed } from '@postern/testkit';
import { createInstance, waitFor, type Instance } from '../lib/instance.js';
import { POSTERN_JS, readableProgram } from '../lib/readable-program.js';

let a: Instance;
let bin: string;

const nobodyCanRun = requirement('sendmail as an ordinary user (the maildrop)', [rootNeed('root (runuser -u nobody)')]) === null;
// the ordinary user runs the command from the checkout, or from a copy it can read when the
// checkout is private (a clone under a 0700 home)
const program = nobodyCanRun ? readableProgram() : null;
const driver = program?.bin ?? POSTERN_JS;
const hasMailx = requirement('mail(1) through postern sendmail', [commandNeed('bsd-mailx')]) === null;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program with the instance's config in $POSTERN_CONFIG, as root or as `user`. */
function run(program: string, args: string[], input = '', user?: string): Run {
  const env = { ...process.env, POSTERN_CONFIG: a.configFile };
  const r = user
    ? spawnSync('runuser', ['-u', user, '--', program, ...args], { input, encoding: 'utf8', timeout: 30_000, env })
    : spawnSync(program, args, { input, encoding: 'utf8', timeout: 30_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sendmail = (args: string[], input: string, user?: string): Run => run(join(bin, 'sendmail'), args, input, user);

/** The one message in `address`'s INBOX whose Subject is `subject`. */
async function stored(address: string, subject: string): Promise<string> {
  return waitFor(
    async () => (await a.messages(address)).find((m) => m.raw.includes(`Subject: ${subject}\r\n`))?.raw ?? null,
    20_000,
    `"${subject}" for ${address}`,
  );
}

beforeAll(async () => {
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start();
  bin = join(a.dir, 'bin');
  mkdirSync(bin);
  for (const name of ['sendmail', 'mailq', 'newaliases']) symlinkSync(driver, join(bin, name));
  // an ordinary user must reach the config (it holds no secret) and the maildrop, not data/
  chmodSync(a.dir, 0o755);
  chmodSync(a.configFile, 0o644);
});

afterAll(async () => {
  await a?.stop();
  program?.cleanup();
});

describe('sendmail through a link, as root', () => {
  it('mutt: -oem -oi keeps a line holding a single "." and what follows it', async () => {
    const r = sendmail(['-oem', '-oi', '--', 'bob@a.test'], 'From: alice@a.test\nTo: bob@a.test\nSubject: mutt dot\n\nbefore\n.\nafter the dot\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const raw = await stored('bob@a.test', 'mutt dot');
    expect(raw).toMatch(/\r\n\r\nbefore\r\n\.\r\nafter the dot\r\n$/);
    expect(raw).toMatch(/^Return-Path: <root@mail\.a\.test>/m);
  });

  it('without -i a lone "." still ends the message (sendmail(8))', async () => {
    expect(sendmail(['bob@a.test'], 'Subject: cut\n\nkept\n.\nnot sent\n').status).toBe(0);
    expect(await stored('bob@a.test', 'cut')).toMatch(/\r\n\r\nkept\r\n$/);
  });

  it('Debian cron: -i -FCronDaemon -B8BITMIME -oem root reaches the admin, from root@<hostname>', async () => {
    const msg = 'From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> run-parts\nContent-Type: text/plain; charset=UTF-8\n\nrésumé of the night\n';
    const r = sendmail(['-i', '-FCronDaemon', '-B8BITMIME', '-oem', 'root'], msg);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const raw = await stored('alice@a.test', 'Cron <root@host> run-parts');
    expect(raw).toMatch(/^Return-Path: <root@mail\.a\.test>/m);
    // the program's own From: is kept, its bare names completed as Postfix's cleanup does (append_at_myorigin)
    expect(raw).toMatch(/^From: root@mail\.a\.test \(Cron Daemon\)\r\nTo: root@mail\.a\.test\r\n/m);
    expect(Buffer.from(raw).includes(Buffer.from('résumé of the night\r\n'))).toBe(true);
  });

  it('cronie: -FCronDaemon -i -odi -oem -oi -t -f root', async () => {
    const r = sendmail(['-FCronDaemon', '-i', '-odi', '-oem', '-oi', '-t', '-f', 'root'], 'To: root\nSubject: cronie job\n\noutput\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const raw = await stored('alice@a.test', 'cronie job');
    expect(raw).toMatch(/^Return-Path: <root@mail\.a\.test>/m);
    expect(raw).toMatch(/^From: "CronDaemon" <root@mail\.a\.test>\r\n/m); // -F names a missing From:
  });

  it('PHP mail(): -t -i takes To:/Cc:/Bcc:, removes Bcc:, keeps the dots', async () => {
    const r = sendmail(['-t', '-i'], 'To: bob@a.test\nCc: postmaster@a.test\nBcc: alice@a.test\nSubject: php\n\n.\nline\n');
    expect(r.status).toBe(0);
    for (const who of ['bob@a.test', 'alice@a.test']) {
      const raw = await stored(who, 'php');
      expect(raw).not.toMatch(/^Bcc:/im);
      expect(raw).toMatch(/\r\n\r\n\.\r\nline\r\n$/);
    }
    // postmaster@a.test is no user or alias: the default alias takes it to the admin (alice), once
    await waitFor(async () => (await a.messages('alice@a.test')).filter((m) => m.raw.includes('Subject: php\r\n')).length >= 1);
  });

  it.skipIf(!hasMailx)('mail(1) (bsd-mailx) with sendmail set to the link', async () => {
    const rc = join(a.dir, 'mailrc');
    writeFileSync(rc, `set sendmail=${join(bin, 'sendmail')}\n`);
    const r = spawnSync('bsd-mailx', ['-s', 'from mailx', 'bob@a.test'], {
      input: 'hello from mailx\n.\nafter\n',
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, MAILRC: rc, POSTERN_CONFIG: a.configFile },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // mailx passes -i: the lone "." is part of the text
    const raw = await stored('bob@a.test', 'from mailx');
    expect(raw).toMatch(/\r\n\r\nhello from mailx\r\n\.\r\nafter\r\n$/);
    expect(raw).toMatch(/^To: bob@a\.test\r\n/m);
  });

  it('mailq lists the queue and newaliases does nothing, successfully', () => {
    const q = run(join(bin, 'mailq'), []);
    expect(q.status).toBe(0);
    expect(q.stdout).toMatch(/^ID\s+ARRIVAL/);
    const n = run(join(bin, 'newaliases'), []);
    expect(n.status).toBe(0);
    expect(sendmail(['-bp'], '').status).toBe(0);
    expect(sendmail(['-bi'], '').status).toBe(0);
    expect(sendmail(['-q'], '').stdout).toMatch(/recipient\(s\) due now/);
  });

  it('refuses what Postfix does not do, with EX_USAGE and a reason', () => {
    for (const [args, reason] of [
      [['-bs'], /-bs/],
      [['-bd'], /postern start/],
      [['-qSexample.org'], /-qS/],
      [['-B', 'BINARYMIME', 'bob@a.test'], /7BIT or 8BITMIME/],
      [['-Z', 'bob@a.test'], /unknown option -Z/],
    ] as const) {
      const r = sendmail([...args], 'Subject: x\n\nx\n');
      expect(r.status, args.join(' ')).toBe(64);
      expect(r.stderr).toMatch(reason);
    }
  });

  it('a bounce to a cron job (root@<hostname>) is delivered to the admin', async () => {
    expect(sendmail(['-f', 'root', 'nosuchuser@a.test'], 'Subject: to nobody here\n\nx\n').status).toBe(0);
    const dsn = await waitFor(
      async () =>
        (await a.messages('alice@a.test')).find((m) => /^Content-Type: multipart\/report/im.test(m.raw) && m.raw.includes('nosuchuser@a.test'))?.raw ?? null,
      30_000,
      'the bounce for nosuchuser@a.test',
    );
    expect(dsn).toMatch(/^Return-Path: <>/m);
    expect(dsn).toMatch(/Final-Recipient: rfc822; ?nosuchuser@a\.test/i);
  });

  it('-v (as mail(1) passes it): the message is delivered and a delivery report is mailed back', async () => {
    expect(sendmail(['-v', '-f', 'alice@a.test', 'bob@a.test'], 'Subject: with a report\n\nx\n').status).toBe(0);
    await stored('bob@a.test', 'with a report');
    const report = await waitFor(
      async () =>
        (await a.messages('alice@a.test')).find((m) => /^Subject: Successful Mail Delivery Report/m.test(m.raw) && m.raw.includes('Subject: with a report'))
          ?.raw ?? null,
      30_000,
      'the delivery report for bob@a.test',
    );
    expect(report).toMatch(/^Return-Path: <>/m);
    expect(report).toMatch(/Final-Recipient: rfc822; bob@a\.test\r\nAction: delivered\r\nStatus: 2\.\d\.\d/);
  });
});

describe.skipIf(!nobodyCanRun)('sendmail as an ordinary user (the maildrop)', () => {
  it('nobody sends as nobody@<hostname>; the stored bytes are what it wrote', async () => {
    const r = sendmail(['-t', '-i'], 'To: bob@a.test\nSubject: from nobody\n\n.\nbody of nobody\n', 'nobody');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const raw = await stored('bob@a.test', 'from nobody');
    expect(raw).toMatch(/^Return-Path: <nobody@mail\.a\.test>/m);
    expect(raw).toMatch(/^From: <nobody@mail\.a\.test>\r\n/m);
    expect(raw).toMatch(/\r\n\r\n\.\r\nbody of nobody\r\n$/);
  });

  it('nobody may not name another sender: -f bob@a.test and -f root are refused (EX_NOPERM)', () => {
    for (const forged of ['bob@a.test', 'root', 'root@mail.a.test', '<>']) {
      const r = sendmail(['-f', forged, 'bob@a.test'], 'Subject: forged\n\nx\n', 'nobody');
      expect(r.status, forged).toBe(77);
      expect(r.stderr).toMatch(/may not send as/);
    }
  });

  it('a maildrop file claiming another sender is rewritten to its owner', async () => {
    // written by hand, as a user could, bypassing the command's own check
    const file = '.tmp-forged';
    const envelope = JSON.stringify({ sender: 'bob@a.test', recipients: ['bob@a.test'], fullName: null, notify: null, ret: null, envid: null });
    const r = spawnSync(
      'runuser',
      ['-u', 'nobody', '--', 'sh', '-c', `cat > ${a.config.maildropDir}/${file} && mv ${a.config.maildropDir}/${file} ${a.config.maildropDir}/forged1`],
      {
        input: `postern-maildrop 1 ${envelope}\nSubject: hand made\r\n\r\nx\r\n`,
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(0);
    const raw = await stored('bob@a.test', 'hand made');
    expect(raw).toMatch(/^Return-Path: <nobody@mail\.a\.test>/m);
    expect(readdirSync(a.config.maildropDir).filter((n) => !n.startsWith('.'))).toEqual([]);
  });

  it('root, when it does not own the data directory, goes through the maildrop and keeps its -f', async () => {
    // as in production: the data belongs to the postern account, root must not create queue.db files
    chownSync(a.config.dataDir, 65534, 65534);
    try {
      const r = sendmail(['-f', 'noreply@a.test', 'bob@a.test'], 'Subject: root via maildrop\n\nx\n');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const raw = await stored('bob@a.test', 'root via maildrop');
      expect(raw).toMatch(/^Return-Path: <noreply@a\.test>/m);
      // the pickup's log line may be written after the delivery it led to
      await waitFor(() => /"uid":0,"origin":"maildrop"/.test(a.logs('transfer')), 10_000, 'the pickup log line');
    } finally {
      chownSync(a.config.dataDir, 0, 0);
    }
  });

  it('nobody cannot list the maildrop (mode 1733)', () => {
    const r = spawnSync('runuser', ['-u', 'nobody', '--', 'ls', a.config.maildropDir], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });
});
