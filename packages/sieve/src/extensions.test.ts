// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve writes its variables as ${name}
/** One block per extension, with the examples of its RFC where they can be run as they are. */
import { describe, expect, it } from 'vitest';
import { SieveRuntimeError } from './index.js';
import { message, MSG, run, summary } from './__tests__/message.js';

describe('RFC 5228 base', () => {
  it('implicit keep, discard, stop, if/elsif/else', () => {
    expect(summary(run('# nothing'))).toEqual(['keep']);
    expect(summary(run('discard;'))).toEqual(['discard']);
    expect(summary(run('if false { discard; } elsif true { stop; } else { discard; } discard;'))).toEqual(['keep']);
  });

  it('§2.7.1/§5.7 header :contains, :is, :matches and comparators', () => {
    expect(summary(run('if header :contains "subject" "PRESENT" { discard; }'))).toEqual(['discard']);
    expect(summary(run('if header :comparator "i;octet" :contains "subject" "PRESENT" { discard; }'))).toEqual(['keep']);
    expect(summary(run('if header :matches "subject" "I have*for ?ou" { discard; }'))).toEqual(['discard']);
    expect(summary(run('if header :matches "subject" "*anvil*" { discard; }'))).toEqual(['keep']);
    expect(summary(run('if header :is "x-caffeine" "" { discard; }'))).toEqual(['keep']);
    expect(summary(run('if not exists ["from", "date"] { discard; }'))).toEqual(['keep']);
    expect(summary(run('if exists "x-nothing" { discard; }'))).toEqual(['keep']);
  });

  it('§5.1 address with :localpart/:domain, §5.9 size', () => {
    const m = message('From: "Wile E." <Coyote@Desert.Example.org>, b@c\nTo: undisclosed-recipients:;\n\nx');
    expect(summary(run('if address :domain :is "from" "desert.example.org" { discard; }', m))).toEqual(['discard']);
    expect(summary(run('if address :localpart :is "from" "b" { discard; }', m))).toEqual(['discard']);
    expect(summary(run('if address :all :is "to" "x" { discard; }', m))).toEqual(['keep']);
    expect(summary(run('if size :over 100K { discard; }'))).toEqual(['keep']);
    expect(summary(run('if size :under 1M { discard; }'))).toEqual(['discard']);
  });

  it('§4.2 redirect, and its limit', () => {
    expect(summary(run('redirect "bart@example.com";'))).toEqual(['redirect:bart@example.com']);
    expect(() => run('redirect "a@x.example"; redirect "b@x.example";', MSG, {}, { maxRedirects: 1 })).toThrow(/more than 1 redirects/);
    expect(() => run('redirect "not an address";')).toThrow(SieveRuntimeError);
    // the same address twice is one redirect (§2.10.3)
    expect(summary(run('redirect "a@x.example"; redirect "A@x.example";'))).toEqual(['redirect:a@x.example']);
  });

  it('§2.7.1: the RFC example of a "Keep it, vacation, notify" script shape', () => {
    const script = `require ["fileinto"];
      if header :is "Sender" "owner-ietf-mtgs@example.com" { fileinto "INBOX.ietf"; stop; }
      if anyof (not exists ["From", "Date"], header :contains "from" "coyote") { fileinto "INBOX.junk"; }`;
    expect(summary(run(script))).toEqual(['fileinto:INBOX.junk']);
  });
});

describe('fileinto, copy (RFC 3894), mailbox (RFC 5490)', () => {
  it('fileinto cancels the implicit keep; :copy does not', () => {
    expect(summary(run('require "fileinto"; fileinto "Work";'))).toEqual(['fileinto:Work']);
    expect(summary(run('require ["fileinto", "copy"]; fileinto :copy "Work";'))).toEqual(['fileinto:Work', 'keep']);
    expect(summary(run('require ["copy"]; redirect :copy "a@x.example";'))).toEqual(['redirect:a@x.example', 'keep']);
  });

  it('mailboxexists and fileinto :create', () => {
    const env = { mailboxExists: (n: string) => n === 'INBOX' };
    const r = run('require ["fileinto", "mailbox"]; if mailboxexists "Lists" { fileinto "Lists"; } else { fileinto :create "New"; }', MSG, env);
    expect(r.actions[0]).toMatchObject({ type: 'fileinto', mailbox: 'New', create: true });
  });
});

describe('reject / ereject (RFC 5429)', () => {
  it('rejects, and refuses to combine with keep or fileinto', () => {
    expect(summary(run('require "reject"; reject "no thanks";'))).toEqual(['reject:no thanks']);
    expect(summary(run('require "ereject"; ereject "no";'))).toEqual(['ereject:no']);
    expect(() => run('require "reject"; keep; reject "x";')).toThrow(/cannot be combined/);
  });
});

describe('envelope (RFC 5228 §5.4) and subaddress (RFC 5233)', () => {
  it('envelope from/to with address parts, user and detail', () => {
    const env = { envelope: { from: 'ken@example.com', to: 'ken+sieve@example.org' } };
    const s = (t: string) => summary(run(`require ["envelope", "subaddress"]; if ${t} { discard; }`, MSG, env));
    expect(s('envelope :all :is "from" "ken@example.com"')).toEqual(['discard']);
    expect(s('envelope :domain :is "to" "example.org"')).toEqual(['discard']);
    expect(s('envelope :user :is "to" "ken"')).toEqual(['discard']);
    expect(s('envelope :detail :is "to" "sieve"')).toEqual(['discard']);
    expect(summary(run('require ["envelope", "subaddress"]; if envelope :detail "to" "" { discard; }', MSG, { envelope: { from: '', to: 'a@b' } }))).toEqual([
      'keep',
    ]);
    // the null reverse-path is ""
    expect(summary(run('require "envelope"; if envelope :is "from" "" { discard; }', MSG, { envelope: { from: '', to: 'a@b' } }))).toEqual(['discard']);
  });
});

describe('encoded-character (RFC 5228 §2.4.2.4)', () => {
  it('decodes ${hex:} and ${unicode:}', () => {
    const m = message('Subject: $$$ and \u263a\n\nx');
    expect(summary(run('require "encoded-character"; if header :is "subject" "${hex:24 24}${hex:24} and ${unicode:263a}" { discard; }', m))).toEqual([
      'discard',
    ]);
    // without the extension the text is literal
    expect(summary(run('if header :is "subject" "${hex:24}" { discard; }', m))).toEqual(['keep']);
  });
});

describe('imap4flags (RFC 5232)', () => {
  it('§6 example: flags set for keep and fileinto', () => {
    const r = run(`require ["imap4flags", "fileinto"];
      if header :contains "from" "coyote" { setflag "\\\\Flagged"; addflag ["$Work", "\\\\seen"]; removeflag "\\\\Flagged"; fileinto "Work"; }
      if hasflag :contains "$work" { keep :flags "\\\\Answered"; }`);
    expect(summary(r)).toEqual(['fileinto:Work[$Work \\Seen]', 'keep[\\Answered]']);
  });

  it('flags in a variable', () => {
    const r = run(`require ["imap4flags", "variables"]; addflag "myflags" ["a", "b"]; removeflag "myflags" "a";
      if hasflag "myflags" "b" { setflag "x"; }`);
    expect(summary(r)).toEqual(['keep[x]']);
  });
});

describe('variables (RFC 5229)', () => {
  it('§3 match variables from :matches, §4 set with modifiers', () => {
    const r = run(`require ["variables", "fileinto"];
      if header :matches "from" "*@*.example.org" { set :upperfirst "who" "\${1}"; fileinto "users/\${who}/\${2}"; }`);
    expect(summary(r)).toEqual(['fileinto:users/Coyote/desert']);
    const len = run('require "variables"; set :length "n" "hello"; if string :is "${n}" "5" { discard; }');
    expect(summary(len)).toEqual(['discard']);
    // §4.1 example: :upper :lowerfirst "BaR" -> "bAR"
    const mods = run('require "variables"; set :upper :lowerfirst "a" "BaR"; if string :is "${a}" "bAR" { discard; }');
    expect(summary(mods)).toEqual(['discard']);
    expect(summary(run('require "variables"; set :quotewildcard "b" "Rock*"; if string :matches "Rock*s" "${b}s" { discard; }'))).toEqual(['discard']);
    expect(summary(run('require "variables"; set :quotewildcard "b" "Rock*"; if string :matches "Rocks" "${b}s" { discard; }'))).toEqual(['keep']);
  });

  it('unknown variables are empty and long values are cut', () => {
    expect(summary(run('require "variables"; if string :is "${nothing}" "" { discard; }'))).toEqual(['discard']);
    const r = run(
      `require "variables"; set "a" "${'x'.repeat(100)}"; set "a" "\${a}\${a}"; set :length "n" "\${a}"; if string :is "\${n}" "150" { discard; }`,
      MSG,
      {},
      {
        maxVariableSize: 150,
      },
    );
    expect(summary(r)).toEqual(['discard']);
  });
});

describe('vacation (RFC 5230) and vacation-seconds (RFC 6131)', () => {
  it('§4 periods with the configured clamp', () => {
    const v = (s: string) => run(s).actions.find((a) => a.type === 'vacation');
    expect(v('require "vacation"; vacation "away";')).toMatchObject({ seconds: 7 * 86400, reason: 'away' });
    expect(v('require "vacation"; vacation :days 200 "away";')).toMatchObject({ seconds: 90 * 86400 });
    expect(v('require "vacation-seconds"; vacation :seconds 1 "away";')).toMatchObject({ seconds: 86400 });
    expect(
      run('require "vacation-seconds"; vacation :seconds 1800 :subject "Gone" :from "me@x" :handle "h" "away";', MSG, {}, { vacationMinSeconds: 0 }).actions[0],
    ).toMatchObject({ seconds: 1800, subject: 'Gone', from: 'me@x', handle: 'h' });
    expect(() => run('require "vacation"; vacation "a"; vacation "b";')).toThrow(/more than one vacation/);
  });
});

describe('body (RFC 5173)', () => {
  it(':contains in the text and :content types', () => {
    expect(summary(run('require "body"; if body :contains "anvil" { discard; }'))).toEqual(['discard']);
    expect(summary(run('require "body"; if body :content "image" :contains "anvil" { discard; }'))).toEqual(['keep']);
    expect(summary(run('require "body"; if body :raw :matches "*cliff*" { discard; }'))).toEqual(['discard']);
  });
});

describe('relational (RFC 5231) and i;ascii-numeric', () => {
  it('§4 :count and :value', () => {
    const m = message('To: a@x, b@x\nCc: c@x\nX-Priority: 10\n\nx');
    const s = (t: string) => summary(run(`require ["relational", "comparator-i;ascii-numeric"]; if ${t} { discard; }`, m));
    expect(s('address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]')).toEqual(['discard']);
    expect(s('address :count "gt" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]')).toEqual(['keep']);
    expect(s('header :value "gt" :comparator "i;ascii-numeric" "x-priority" "9"')).toEqual(['discard']);
    expect(s('header :value "lt" "x-priority" "9"')).toEqual(['discard']); // "10" < "9" as text
    expect(s('header :value "lt" :comparator "i;ascii-numeric" "x-priority" "9"')).toEqual(['keep']);
  });
});

describe('date and index (RFC 5260)', () => {
  it('§5 date parts with :zone and :originalzone, currentdate', () => {
    const s = (t: string, env = {}) => summary(run(`require ["date", "relational", "index"]; if ${t} { discard; }`, MSG, env));
    expect(s('date :originalzone "date" "zone" "-0800"')).toEqual(['discard']);
    expect(s('date :zone "+0000" "date" "hour" "17"')).toEqual(['discard']);
    expect(s('date :zone "+0000" "date" "date" "1997-04-01"')).toEqual(['discard']);
    expect(s('date :zone "+0000" "date" "weekday" "2"')).toEqual(['discard']);
    expect(s('date :originalzone "date" "iso8601" "1997-04-01T09:06:31-08:00"')).toEqual(['discard']);
    expect(s('date :zone "+0000" "date" "julian" "50539"')).toEqual(['discard']);
    const now = { now: new Date('2026-12-02T10:00:00Z') };
    expect(s('currentdate :zone "+0000" :value "ge" "date" "2026-12-01"', now)).toEqual(['discard']);
    expect(s('currentdate :zone "+0000" :value "lt" "date" "2026-12-01"', now)).toEqual(['keep']);
  });

  it('§6 :index and :last', () => {
    const m = message('Received: from a\nReceived: from b\nReceived: from c\n\nx');
    const s = (t: string) => summary(run(`require ["index"]; if ${t} { discard; }`, m));
    expect(s('header :index 2 :contains "received" "from b"')).toEqual(['discard']);
    expect(s('header :index 1 :last :contains "received" "from c"')).toEqual(['discard']);
    expect(s('header :index 4 :contains "received" "from"')).toEqual(['keep']);
  });
});

describe('include (RFC 6609)', () => {
  it('runs personal scripts, :once, :optional, return and global variables', () => {
    const scripts: Record<string, string> = {
      spam: 'require ["fileinto", "variables", "include"]; global "folder"; if header :contains "subject" "present" { fileinto "${folder}"; return; } discard;',
    };
    const include = (name: string) => {
      const src = scripts[name];
      if (src === undefined) return null;
      return compileFor(src);
    };
    const r = run(
      'require ["include", "variables"]; global "folder"; set "folder" "Junk"; include :once "spam"; include :once "spam"; include :optional "none";',
      MSG,
      { include },
    );
    expect(summary(r)).toEqual(['fileinto:Junk']);
    expect(() => run('require "include"; include "none";', MSG, { include })).toThrow(/does not exist/);
  });

  it('endless includes stop at the limit', () => {
    const self = compileFor('require "include"; include "self";');
    expect(() => run('require "include"; include "self";', MSG, { include: () => self })).toThrow(/includes itself/);
    const scripts = Array.from({ length: 20 }, (_, i) => compileFor(`require "include"; include "s${i + 1}";`));
    expect(() => run('require "include"; include "s0";', MSG, { include: (n) => scripts[Number(n.slice(1))] ?? null })).toThrow(/nested deeper than 5/);
  });
});

describe('duplicate (RFC 7352)', () => {
  it('§3 tracks Message-ID or :uniqueid with a handle', () => {
    const seen = new Set<string>();
    const first = run('require "duplicate"; if duplicate { discard; }', MSG, { duplicateSeen: (id) => seen.has(id) });
    expect(summary(first)).toEqual(['keep']);
    for (const d of first.duplicates) seen.add(d.id);
    expect(summary(run('require "duplicate"; if duplicate { discard; }', MSG, { duplicateSeen: (id) => seen.has(id) }))).toEqual(['discard']);
    expect(summary(run('require "duplicate"; if duplicate :handle "other" { discard; }', MSG, { duplicateSeen: (id) => seen.has(id) }))).toEqual(['keep']);
    expect(run('require "duplicate"; if duplicate :uniqueid "x" :seconds 60 { discard; }').duplicates[0]!.seconds).toBe(60);
  });
});

describe('editheader (RFC 5293)', () => {
  it('adds and deletes fields; Received cannot be touched', () => {
    const r = run(`require ["editheader", "index"]; addheader "X-Sieve" "seen"; addheader :last "X-Tail" "caf\u00e9";
      deleteheader "x-caffeine"; deleteheader "received"; if exists "x-sieve" { keep; }`);
    const keep = r.actions[0]! as { headers: Array<{ name: string; value: string }> };
    expect(keep.headers[0]).toEqual({ name: 'X-Sieve', value: 'seen' });
    expect(keep.headers.at(-1)).toEqual({ name: 'X-Tail', value: '=?UTF-8?B?Y2Fmw6k=?=' });
    expect(keep.headers.some((h) => h.name === 'X-Caffeine')).toBe(false);
    expect(() => run('require "editheader"; addheader "Received" "x";')).toThrow(/may not be added/);
  });
});

describe('regex (draft-ietf-sieve-regex)', () => {
  it('matches POSIX EREs with captures', () => {
    const r = run(`require ["regex", "variables", "fileinto"];
      if header :regex "from" "^([a-z]+)@(desert|sea)\\\\.example\\\\.org$" { fileinto "\${1}-\${2}"; }`);
    expect(summary(r)).toEqual(['fileinto:coyote-desert']);
    expect(summary(run('require "regex"; if header :regex "subject" "pre[[:alpha:]]{3}t" { discard; }'))).toEqual(['discard']);
  });

  it('a catastrophic pattern costs linear steps, within the budget', () => {
    const m = message(`Subject: ${'a'.repeat(5000)}!\n\nx`);
    const r = run('require "regex"; if header :regex "subject" "^(a+)+$" { discard; }', m, {}, { maxSteps: 1_000_000 });
    expect(summary(r)).toEqual(['keep']);
    expect(() => run('require "regex"; if header :regex "subject" "^(a|a)*(a|a)*(a|a)*$" { discard; }', m, {}, { maxSteps: 10_000 })).toThrow(/steps/);
  });
});

describe('spamtest (RFC 5235)', () => {
  it('the junk filter score as a value and a percent', () => {
    const s = (t: string, spam?: { value: number; percent: number }) =>
      summary(run(`require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"]; if ${t} { fileinto "Junk"; }`, MSG, spam ? { spam } : {}));
    expect(s('spamtest :value "ge" :comparator "i;ascii-numeric" "5"', { value: 10, percent: 100 })).toEqual(['fileinto:Junk']);
    expect(s('spamtest :value "ge" :comparator "i;ascii-numeric" "5"', { value: 1, percent: 0 })).toEqual(['keep']);
    expect(s('spamtest :value "eq" :comparator "i;ascii-numeric" "0"')).toEqual(['fileinto:Junk']); // not tested
    expect(s('spamtest :percent :value "gt" :comparator "i;ascii-numeric" "50"', { value: 8, percent: 80 })).toEqual(['fileinto:Junk']);
  });
});

describe('hostile scripts stop at their limits', () => {
  it('a million actions, a long loop of tests', () => {
    expect(() => run('require "fileinto";'.concat(' fileinto "a"; fileinto "b";'.repeat(40)))).toThrow(/more than 32 actions/);
    const many = `if ${'anyof('.repeat(30)}false${')'.repeat(30)} { keep; }`;
    expect(summary(run(many))).toEqual(['keep']);
    const long = `${'if string :matches "${x}" "*a*b*c*d*e*f*" { keep; } '.repeat(300)}`;
    expect(() => run(`require "variables"; set "x" "${'ab'.repeat(2000)}"; ${long}`, MSG, {}, { maxSteps: 20_000 })).toThrow(/steps/);
  });
});

import { compile, DEFAULT_LIMITS } from './index.js';
function compileFor(src: string) {
  return compile(src, DEFAULT_LIMITS);
}
