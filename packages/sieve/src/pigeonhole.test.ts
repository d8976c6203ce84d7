// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve writes its variables as ${name}
/**
 * Cross-check against Pigeonhole (Dovecot's Sieve, Debian's dovecot-sieve): every script of a
 * corpus runs on every message in both interpreters, and the actions must agree (where the
 * message is stored and with which flags, redirects, rejects, vacation, discard), as must the
 * verdict on scripts that do not compile. Skipped loudly when `sieve-test` is absent.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commandNeed, requirement } from '@postern/testkit';
import { compile, DEFAULT_LIMITS, execute, SieveSyntaxError } from './index.js';
import { message } from './__tests__/message.js';

const missing = requirement('sieve: Pigeonhole cross-check', [commandNeed('sieve-test', 'dovecot-sieve')]);

const MESSAGES: Record<string, string> = {
  coyote: `Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)
From: "Wile E. Coyote" <coyote@desert.example.org>
To: roadrunner@acme.example.com, "Road Runner" <rr+birds@acme.example.com>
Cc: acme-sales@acme.example.com
Subject: I have a present for you
Message-ID: <1234@desert.example.org>
X-Caffeine: C8H10N4O2
X-Priority: 10

Look, I'm sorry about the whole anvil thing, and I really
didn't mean to try and drop it on you from the cliff.
`,
  list: `Date: Wed, 02 Dec 2026 10:00:00 +0000
From: Dev List <dev-bounces@lists.example.net>
Sender: owner-dev@lists.example.net
To: dev@lists.example.net
Subject: [dev] =?UTF-8?Q?R=C3=A9union?= on Friday
List-Id: Developers <dev.lists.example.net>
Precedence: list
Received: from a by b; Wed, 02 Dec 2026 10:00:00 +0000
Received: from c by d; Wed, 02 Dec 2026 09:59:00 +0000

The meeting is moved.
`,
  bare: `From: nobody@example.com
Subject: 

x
`,
};

const SCRIPTS: string[] = [
  'keep;',
  'discard;',
  'if header :contains "subject" "present" { discard; }',
  'if header :is "subject" "I have a present for you" { discard; }',
  'if header :matches "subject" "*present*" { discard; }',
  'if header :matches "subject" "I have ? present*" { discard; }',
  'if header :comparator "i;octet" :contains "subject" "PRESENT" { discard; }',
  'if address :domain :is "from" "desert.example.org" { discard; }',
  'if address :localpart :is "to" "rr+birds" { discard; }',
  'if address :all :contains ["to", "cc"] "sales" { discard; }',
  'if exists ["x-caffeine", "date"] { discard; }',
  'if not exists "list-id" { discard; }',
  'if size :over 300 { discard; }',
  'if size :under 1K { discard; }',
  'if anyof (header :contains "subject" "nothing", address :domain "from" "lists.example.net") { discard; }',
  'if allof (true, not false) { stop; } discard;',
  'redirect "somebody@example.org";',
  'require "copy"; redirect :copy "somebody@example.org";',
  'require "fileinto"; fileinto "Lists";',
  'require ["fileinto", "copy"]; fileinto :copy "Lists"; fileinto "Other";',
  'require "fileinto"; if header :contains "list-id" "dev.lists" { fileinto "Lists/dev"; stop; } fileinto "Rest";',
  'require "reject"; if header :contains "subject" "present" { reject "No anvils, thanks."; }',
  'require "envelope"; if envelope :is "from" "coyote@desert.example.org" { discard; }',
  'require ["envelope", "subaddress"]; if envelope :detail "to" "birds" { discard; }',
  'require "subaddress"; if address :user "to" "rr" { discard; }',
  'require "subaddress"; if address :detail "to" "birds" { discard; }',
  'require ["imap4flags"]; setflag "\\\\Seen"; addflag "$Work"; keep;',
  'require ["imap4flags", "fileinto"]; addflag ["\\\\Flagged", "$x"]; removeflag "$x"; fileinto "Flagged";',
  'require ["imap4flags", "fileinto"]; fileinto :flags "\\\\Answered" "F"; keep;',
  'require ["variables", "fileinto"]; if header :matches "from" "*@*" { fileinto "from-${2}"; }',
  'require ["variables", "fileinto"]; set :lower :upperfirst "b" "HELLO"; fileinto "${b}";',
  'require ["variables", "fileinto"]; set :length "n" "abcdef"; fileinto "len-${n}";',
  'require ["variables"]; if string :matches " a b " "* a *" { discard; }',
  'require ["relational", "comparator-i;ascii-numeric"]; if header :value "gt" :comparator "i;ascii-numeric" "x-priority" "9" { discard; }',
  'require ["relational", "comparator-i;ascii-numeric"]; if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "3" { discard; }',
  'require ["relational"]; if header :value "lt" "x-priority" "9" { discard; }',
  'require "body"; if body :contains "anvil" { discard; }',
  'require "body"; if body :raw :matches "*cliff*" { discard; }',
  'require ["date", "relational"]; if date :value "ge" :originalzone "date" "date" "1997-01-01" { discard; }',
  'require ["date"]; if date :zone "+0000" "date" "hour" "17" { discard; }',
  'require ["date", "fileinto", "variables"]; if date :matches :zone "+0100" "date" "weekday" "*" { fileinto "wd-${1}"; }',
  'require ["index"]; if header :index 2 :contains "received" "from c" { discard; }',
  'require ["index"]; if header :index 1 :last :contains "received" "from c" { discard; }',
  'require ["regex", "fileinto", "variables"]; if header :regex "subject" "^\\\\[([a-z]+)\\\\]" { fileinto "re-${1}"; }',
  'require "regex"; if header :regex "from" "^[a-z]+@(desert|sea)\\\\.example\\\\.org$" { discard; }',
  'require ["encoded-character", "fileinto"]; fileinto "${hex:49 4e}BOX";',
  'require "vacation"; vacation :days 3 "I am away.";',
  'require ["vacation"]; vacation :subject "Away" :handle "h1" "I am away."; discard;',
  'require ["mailbox", "fileinto"]; fileinto :create "New/Box";',
  // scripts both must refuse
  'fileinto "x";',
  'require "fileinto"; fileinto "x"',
  'if header :is "a" { keep; }',
  'require "nonsense";',
  'keep; require "fileinto";',
  'elsif true { keep; }',
  'if size 10 { keep; }',
  'redirect ["a@b.example", "c@d.example"];',
];

/** Pigeonhole's "Performed actions" and "Implicit keep", in our summary form. */
function pigeonhole(script: string, msg: string, dir: string): string[] | 'error' {
  const s = join(dir, 'script.sieve');
  const m = join(dir, 'message.eml');
  writeFileSync(s, script);
  writeFileSync(m, msg.replace(/\r?\n/g, '\r\n'));
  const asRoot = process.getuid?.() === 0 ? ['-o', 'mail_uid=nobody', '-o', 'mail_gid=nogroup'] : [];
  const r = spawnSync('sieve-test', [...asRoot, '-f', 'coyote@desert.example.org', '-r', 'rr+birds@acme.example.com', s, m], {
    encoding: 'utf8',
    cwd: dir,
    timeout: 30_000,
  });
  if (r.status !== 0) return 'error';
  const out: string[] = [];
  let current: string | null = null;
  const flags: string[] = [];
  const flush = (): void => {
    if (current !== null) out.push(flags.length ? `${current}[${flags.sort().join(' ')}]` : current);
    current = null;
    flags.length = 0;
  };
  const start = (what: string): void => {
    flush();
    current = what;
  };
  for (const line of r.stdout.split('\n')) {
    const store = /^\s*\* store message in folder: (.*)$/.exec(line);
    const flag = /^\s*\+ add IMAP flags: (.*)$/.exec(line);
    const redirect = /^\s*\* redirect message to: <?([^>]*)>?$/.exec(line);
    if (store) start(`store:${store[1]}`);
    else if (flag) flags.push(...flag[1]!.toLowerCase().split(/\s+/));
    else if (redirect) start(`redirect:${redirect[1]}`);
    else if (/^\s*\* reject message/.test(line)) start('reject');
    else if (/^\s*\* send vacation message/.test(line)) start('vacation');
    else if (/^\s*\* discard/.test(line)) start('discard');
    else if (/^\s*\* keep/.test(line)) start('store:INBOX');
  }
  flush();
  return out.sort();
}

function ours(script: string, msg: string): string[] | 'error' {
  let compiled: ReturnType<typeof compile>;
  try {
    compiled = compile(script, DEFAULT_LIMITS);
  } catch (err) {
    if (err instanceof SieveSyntaxError) return 'error';
    throw err;
  }
  const r = execute(
    compiled,
    message(msg),
    { envelope: { from: 'coyote@desert.example.org', to: 'rr+birds@acme.example.com' }, localZone: 0 },
    { ...DEFAULT_LIMITS, vacationMinSeconds: 0 },
  );
  return r.actions
    .map((a) => {
      const f =
        'flags' in a && a.flags.length
          ? `[${a.flags
              .map((x) => x.toLowerCase())
              .sort()
              .join(' ')}]`
          : '';
      switch (a.type) {
        case 'keep':
          return `store:INBOX${f}`;
        case 'fileinto':
          return `store:${a.mailbox}${f}`;
        case 'redirect':
          return `redirect:${a.address}`;
        default:
          return a.type;
      }
    })
    .sort();
}

describe.skipIf(missing !== null)('Pigeonhole agrees', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-pigeonhole-'));
  chmodSync(dir, 0o777); // sieve-test as root drops to nobody and writes its binaries here
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, msg] of Object.entries(MESSAGES)) {
    it(`on the "${name}" message, for ${SCRIPTS.length} scripts`, () => {
      const disagreements: string[] = [];
      for (const script of SCRIPTS) {
        const theirs = pigeonhole(script, msg, dir);
        const mine = ours(script, msg);
        if (JSON.stringify(theirs) !== JSON.stringify(mine))
          disagreements.push(`${script}\n  pigeonhole: ${JSON.stringify(theirs)}\n  postern:    ${JSON.stringify(mine)}`);
      }
      expect(disagreements.join('\n')).toBe('');
    });
  }
});
