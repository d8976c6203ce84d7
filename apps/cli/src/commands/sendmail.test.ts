import { describe, expect, it } from 'vitest';
import { CliError } from '../context.js';
import { parseSendmailArgs, sendmailPersona } from './sendmail.js';

const usageError = (argv: string[]): string => {
  try {
    parseSendmailArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(64);
    return (err as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

describe('sendmail options (Postfix sendmail(1))', () => {
  it('reads getopt style: bundled flags, attached or separate values, -- ends options', () => {
    const r = parseSendmailArgs(['-ti', '-froot', '-F', 'Cron Daemon', '--', '-odd-name@example.org']);
    expect(r).toMatchObject({ extractRecipients: true, ignoreDots: true, sender: 'root', fullName: 'Cron Daemon', recipients: ['-odd-name@example.org'] });
    expect(parseSendmailArgs(['-r', 'a@b.example', 'x']).sender).toBe('a@b.example');
    expect(parseSendmailArgs(['bob', '-t']).recipients).toEqual(['bob', '-t']); // options end at the first operand
  });

  it('-oi is -i; every other -oX is ignored', () => {
    expect(parseSendmailArgs(['-oi']).ignoreDots).toBe(true);
    expect(parseSendmailArgs(['-o', 'i']).ignoreDots).toBe(true);
    for (const o of ['-oem', '-odi', '-odb', '-o7', '-o8', '-om', '-oA/etc/aliases', '-oXfoo']) expect(parseSendmailArgs([o, 'x']).ignoreDots).toBe(false);
  });

  it('accepts and ignores what Postfix ignores', () => {
    const ignored = [
      ['-Am'],
      ['-Ac'],
      ['-bm'],
      ['-bh'],
      ['-bH'],
      ['-G'],
      ['-h', '30'],
      ['-L', 'label'],
      ['-m'],
      ['-n'],
      ['-O', 'x=y'],
      ['-U'],
      ['-X', '/tmp/log'],
      ['-q30m'],
    ];
    for (const args of ignored) {
      const r = parseSendmailArgs([...args, 'bob']);
      expect(r.mode, args.join(' ')).toBe('deliver');
      expect(r.recipients).toEqual(['bob']);
    }
  });

  it('-v asks for a delivery report (NOTIFY=SUCCESS,FAILURE,DELAY) unless -N says otherwise', () => {
    expect(parseSendmailArgs(['-v', 'bob']).notify).toEqual(['SUCCESS', 'FAILURE', 'DELAY']);
    expect(parseSendmailArgs(['-vi', 'bob']).notify).toEqual(['SUCCESS', 'FAILURE', 'DELAY']);
    expect(parseSendmailArgs(['-v', '-N', 'never', 'bob']).notify).toEqual(['NEVER']);
    expect(parseSendmailArgs(['bob']).notify).toBeNull();
  });

  it('modes: -bp (mailq), -bi and -I (newaliases), -q and -qI / -qR (flush)', () => {
    expect(parseSendmailArgs(['-bp']).mode).toBe('list-queue');
    expect(parseSendmailArgs(['-bi']).mode).toBe('newaliases');
    expect(parseSendmailArgs(['-I']).mode).toBe('newaliases');
    expect(parseSendmailArgs(['-q']).mode).toBe('flush-queue');
    expect(parseSendmailArgs(['-qIabc123'])).toMatchObject({ mode: 'flush-queue', flushId: 'abc123' });
    expect(parseSendmailArgs(['-qRexample.org']).mode).toBe('flush-queue');
  });

  it('DSN controls -N, -R, -V and the body type -B', () => {
    expect(parseSendmailArgs(['-N', 'failure,delay', 'x']).notify).toEqual(['FAILURE', 'DELAY']);
    expect(parseSendmailArgs(['-Nnever', 'x']).notify).toEqual(['NEVER']);
    expect(parseSendmailArgs(['-R', 'hdrs', 'x']).ret).toBe('HDRS');
    expect(parseSendmailArgs(['-V', 'env-1', 'x']).envid).toBe('env-1');
    expect(parseSendmailArgs(['-B8BITMIME', 'x']).bodyType).toBe('8BITMIME');
    expect(parseSendmailArgs(['-C', '/etc/postern/other.toml', 'x']).configFile).toBe('/etc/postern/other.toml');
  });

  it('refuses, with EX_USAGE and the reason, what it cannot do', () => {
    expect(usageError(['-bs'])).toMatch(/-bs/);
    expect(usageError(['-bd'])).toMatch(/postern start/);
    expect(usageError(['-bl'])).toMatch(/postern start/);
    expect(usageError(['-bv', 'x'])).toMatch(/-bv/);
    expect(usageError(['-qSsite'])).toMatch(/-qS/);
    expect(usageError(['-XV', 'x'])).toMatch(/VERP/);
    expect(usageError(['-Bbinary'])).toMatch(/7BIT or 8BITMIME/);
    expect(usageError(['-N', 'sometimes'])).toMatch(/never/);
    expect(usageError(['-R', 'most'])).toMatch(/full or hdrs/);
    expect(usageError(['-f'])).toMatch(/needs a value/);
    expect(usageError(['-Z'])).toMatch(/unknown option -Z/);
  });

  it('knows the names it is linked as', () => {
    expect(sendmailPersona('/usr/sbin/sendmail')).toBe('sendmail');
    expect(sendmailPersona('/usr/bin/mailq')).toBe('mailq');
    expect(sendmailPersona('/usr/bin/newaliases')).toBe('newaliases');
    expect(sendmailPersona('/opt/postern/apps/cli/bin/postern.js')).toBe(null);
  });
});
