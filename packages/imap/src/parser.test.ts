/**
 * Table tests of real client traffic: the commands Thunderbird, imapflow, mutt, Apple Mail and
 * python's imaplib send (as seen in their protocol logs and sources), each parsed to the typed
 * command the server will get. Then the ways commands go wrong.
 */
import { describe, expect, it } from 'vitest';
import type { Command, FetchAttribute, SearchKey } from './command.js';
import { ImapParseError } from './errors.js';
import { parseSequenceSet, type SequenceSet } from './sequence.js';
import { parseError, parseOne } from '../test/helpers.js';

const set = (s: string): SequenceSet => parseSequenceSet(s);
const att = (kind: string): FetchAttribute => ({ kind }) as FetchAttribute;
const and = (...keys: SearchKey[]): SearchKey => ({ type: 'and', keys });
const noReturn = { subscribed: false, children: false, specialUse: false, status: null };
const peekHeaderFields = (fields: string[]): FetchAttribute => ({
  kind: 'BODY[]',
  peek: true,
  section: { part: [], text: 'HEADER.FIELDS', fields },
  partial: null,
});

interface Case {
  client: string;
  wire: string;
  expected: Command;
}

const cases: Case[] = [
  // --- Thunderbird: lower-case verbs, numeric tags, quoted mailbox names -----------------------
  { client: 'thunderbird', wire: '1 capability\r\n', expected: { tag: '1', name: 'CAPABILITY' } },
  { client: 'thunderbird', wire: '2 authenticate PLAIN\r\n', expected: { tag: '2', name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: null } },
  {
    client: 'thunderbird',
    wire: '3 ID ("name" "Thunderbird" "version" "128.5.2")\r\n',
    expected: {
      tag: '3',
      name: 'ID',
      params: [
        ['name', 'Thunderbird'],
        ['version', '128.5.2'],
      ],
    },
  },
  { client: 'thunderbird', wire: '4 enable UTF8=ACCEPT\r\n', expected: { tag: '4', name: 'ENABLE', capabilities: ['UTF8=ACCEPT'] } },
  {
    client: 'thunderbird',
    wire: '5 list (SUBSCRIBED) "" "*" RETURN (SPECIAL-USE)\r\n',
    expected: {
      tag: '5',
      name: 'LIST',
      reference: '',
      patterns: ['*'],
      selectOptions: ['SUBSCRIBED'],
      returnOptions: { ...noReturn, specialUse: true },
      extended: true,
    },
  },
  { client: 'thunderbird', wire: '6 lsub "" "*"\r\n', expected: { tag: '6', name: 'LSUB', reference: '', pattern: '*' } },
  {
    client: 'thunderbird',
    wire: '7 select "INBOX" (CONDSTORE)\r\n',
    expected: { tag: '7', name: 'SELECT', mailbox: 'INBOX', condstore: true, qresync: null },
  },
  {
    client: 'thunderbird',
    wire: '8 UID fetch 1:* (FLAGS) (CHANGEDSINCE 1234)\r\n',
    expected: { tag: '8', name: 'FETCH', uid: true, set: set('1:*'), attributes: [att('FLAGS')], macro: null, changedSince: 1234, vanished: false },
  },
  {
    client: 'thunderbird',
    wire: '9 UID fetch 42:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n',
    expected: {
      tag: '9',
      name: 'FETCH',
      uid: true,
      set: set('42:*'),
      attributes: [
        att('UID'),
        att('RFC822.SIZE'),
        att('FLAGS'),
        peekHeaderFields([
          'From',
          'To',
          'Cc',
          'Bcc',
          'Subject',
          'Date',
          'Message-ID',
          'Priority',
          'X-Priority',
          'References',
          'Newsgroups',
          'In-Reply-To',
          'Content-Type',
          'Reply-To',
        ]),
      ],
      macro: null,
      changedSince: null,
      vanished: false,
    },
  },
  {
    client: 'thunderbird',
    wire: '10 UID fetch 57 (UID RFC822.SIZE BODY.PEEK[]<0.65536>)\r\n',
    expected: {
      tag: '10',
      name: 'FETCH',
      uid: true,
      set: set('57'),
      attributes: [att('UID'), att('RFC822.SIZE'), { kind: 'BODY[]', peek: true, section: { part: [] }, partial: { offset: 0, length: 65536 } }],
      macro: null,
      changedSince: null,
      vanished: false,
    },
  },
  {
    client: 'thunderbird',
    wire: '11 uid store 57 +Flags (\\Seen)\r\n',
    expected: { tag: '11', name: 'STORE', uid: true, set: set('57'), action: 'add', silent: false, flags: ['\\Seen'], unchangedSince: null },
  },
  {
    client: 'thunderbird',
    wire: '12 uid store 3,5:7 -Flags ($Junk $label1)\r\n',
    expected: { tag: '12', name: 'STORE', uid: true, set: set('3,5:7'), action: 'remove', silent: false, flags: ['$Junk', '$label1'], unchangedSince: null },
  },
  { client: 'thunderbird', wire: '13 UID MOVE 57 "Trash"\r\n', expected: { tag: '13', name: 'MOVE', uid: true, set: set('57'), mailbox: 'Trash' } },
  {
    client: 'thunderbird',
    wire: '14 uid copy 57 "Archives/2024"\r\n',
    expected: { tag: '14', name: 'COPY', uid: true, set: set('57'), mailbox: 'Archives/2024' },
  },
  { client: 'thunderbird', wire: '15 uid expunge 57\r\n', expected: { tag: '15', name: 'EXPUNGE', uid: true, set: set('57') } },
  {
    client: 'thunderbird',
    wire: '16 STATUS "Drafts" (UIDNEXT MESSAGES UNSEEN RECENT HIGHESTMODSEQ)\r\n',
    expected: { tag: '16', name: 'STATUS', mailbox: 'Drafts', items: ['UIDNEXT', 'MESSAGES', 'UNSEEN', 'RECENT', 'HIGHESTMODSEQ'] },
  },
  { client: 'thunderbird', wire: '17 IDLE\r\n', expected: { tag: '17', name: 'IDLE' } },
  {
    client: 'thunderbird',
    wire: '18 select "INBOX" (QRESYNC (1700000000 912 1:57))\r\n',
    expected: {
      tag: '18',
      name: 'SELECT',
      mailbox: 'INBOX',
      condstore: false,
      qresync: { uidValidity: 1700000000, modSeq: 912, knownUids: set('1:57'), seqMatch: null },
    },
  },
  {
    client: 'thunderbird',
    wire: '19 UID fetch 1:* (FLAGS) (CHANGEDSINCE 912 VANISHED)\r\n',
    expected: { tag: '19', name: 'FETCH', uid: true, set: set('1:*'), attributes: [att('FLAGS')], macro: null, changedSince: 912, vanished: true },
  },
  {
    client: 'thunderbird',
    wire: '20 UID fetch 57 (BODY.PEEK[1.MIME] BODY.PEEK[1])\r\n',
    expected: {
      tag: '20',
      name: 'FETCH',
      uid: true,
      set: set('57'),
      attributes: [
        { kind: 'BODY[]', peek: true, section: { part: [1], text: 'MIME' }, partial: null },
        { kind: 'BODY[]', peek: true, section: { part: [1] }, partial: null },
      ],
      macro: null,
      changedSince: null,
      vanished: false,
    },
  },
  { client: 'thunderbird', wire: '21 logout\r\n', expected: { tag: '21', name: 'LOGOUT' } },

  // --- imapflow: upper-case, bare atoms, LITERAL+ ----------------------------------------------
  {
    client: 'imapflow',
    wire: '1 AUTHENTICATE PLAIN AHVzZXIAcGFzcw==\r\n',
    expected: { tag: '1', name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: 'AHVzZXIAcGFzcw==' },
  },
  {
    client: 'imapflow',
    wire: '2 ID ("name" "imapflow" "version" "2.10.2" "vendor" "Postal Systems" "support-url" "https://github.com/postalsys/imapflow/issues")\r\n',
    expected: {
      tag: '2',
      name: 'ID',
      params: [
        ['name', 'imapflow'],
        ['version', '2.10.2'],
        ['vendor', 'Postal Systems'],
        ['support-url', 'https://github.com/postalsys/imapflow/issues'],
      ],
    },
  },
  { client: 'imapflow', wire: '3 ENABLE CONDSTORE UTF8=ACCEPT\r\n', expected: { tag: '3', name: 'ENABLE', capabilities: ['CONDSTORE', 'UTF8=ACCEPT'] } },
  { client: 'imapflow', wire: '4 NAMESPACE\r\n', expected: { tag: '4', name: 'NAMESPACE' } },
  {
    client: 'imapflow',
    wire: '5 LIST "" "*" RETURN (SUBSCRIBED SPECIAL-USE CHILDREN STATUS (MESSAGES UIDNEXT UNSEEN))\r\n',
    expected: {
      tag: '5',
      name: 'LIST',
      reference: '',
      patterns: ['*'],
      selectOptions: [],
      returnOptions: { subscribed: true, children: true, specialUse: true, status: ['MESSAGES', 'UIDNEXT', 'UNSEEN'] },
      extended: true,
    },
  },
  {
    client: 'imapflow',
    wire: '6 SELECT INBOX (CONDSTORE)\r\n',
    expected: { tag: '6', name: 'SELECT', mailbox: 'INBOX', condstore: true, qresync: null },
  },
  {
    client: 'imapflow',
    wire: '7 FETCH 1:* (UID FLAGS)\r\n',
    expected: {
      tag: '7',
      name: 'FETCH',
      uid: false,
      set: set('1:*'),
      attributes: [att('UID'), att('FLAGS')],
      macro: null,
      changedSince: null,
      vanished: false,
    },
  },
  {
    client: 'imapflow',
    wire: '8 UID FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE INTERNALDATE RFC822.SIZE MODSEQ BODY.PEEK[HEADER.FIELDS (date subject)])\r\n',
    expected: {
      tag: '8',
      name: 'FETCH',
      uid: true,
      set: set('1:*'),
      attributes: [
        att('UID'),
        att('FLAGS'),
        att('ENVELOPE'),
        att('BODYSTRUCTURE'),
        att('INTERNALDATE'),
        att('RFC822.SIZE'),
        att('MODSEQ'),
        peekHeaderFields(['date', 'subject']),
      ],
      macro: null,
      changedSince: null,
      vanished: false,
    },
  },
  {
    client: 'imapflow',
    wire: '9 UID STORE 1:3 +FLAGS.SILENT (\\Seen)\r\n',
    expected: { tag: '9', name: 'STORE', uid: true, set: set('1:3'), action: 'add', silent: true, flags: ['\\Seen'], unchangedSince: null },
  },
  {
    client: 'imapflow',
    wire: '10 UID STORE 4 (UNCHANGEDSINCE 320162338) FLAGS.SILENT (\\Flagged)\r\n',
    expected: { tag: '10', name: 'STORE', uid: true, set: set('4'), action: 'set', silent: true, flags: ['\\Flagged'], unchangedSince: 320162338 },
  },
  {
    client: 'imapflow',
    wire: '11 UID SEARCH RETURN (ALL) SEEN NOT DELETED SINCE 1-Feb-2024\r\n',
    expected: {
      tag: '11',
      name: 'SEARCH',
      uid: true,
      charset: null,
      criteria: and({ type: 'seen' }, { type: 'not', key: { type: 'deleted' } }, { type: 'since', date: { year: 2024, month: 2, day: 1 } }),
      returnOptions: ['ALL'],
    },
  },
  {
    client: 'imapflow',
    wire: '12 UID SEARCH CHARSET UTF-8 SUBJECT {12+}\r\nÄpfel über\r\n',
    expected: {
      tag: '12',
      name: 'SEARCH',
      uid: true,
      charset: 'UTF-8',
      criteria: and({ type: 'subject', value: 'Äpfel über' }),
      returnOptions: null,
    },
  },
  {
    client: 'imapflow',
    wire: '13 STATUS Sent (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)\r\n',
    expected: { tag: '13', name: 'STATUS', mailbox: 'Sent', items: ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ'] },
  },
  { client: 'imapflow', wire: '14 UID MOVE 1,3 Archive\r\n', expected: { tag: '14', name: 'MOVE', uid: true, set: set('1,3'), mailbox: 'Archive' } },
  { client: 'imapflow', wire: '15 CREATE "Projects/Q3"\r\n', expected: { tag: '15', name: 'CREATE', mailbox: 'Projects/Q3', specialUse: [] } },
  {
    client: 'imapflow',
    wire: '16 RENAME Projects Archive/Projects\r\n',
    expected: { tag: '16', name: 'RENAME', mailbox: 'Projects', newName: 'Archive/Projects' },
  },
  { client: 'imapflow', wire: '17 DELETE "Old stuff"\r\n', expected: { tag: '17', name: 'DELETE', mailbox: 'Old stuff' } },
  { client: 'imapflow', wire: '18 SUBSCRIBE Archive\r\n', expected: { tag: '18', name: 'SUBSCRIBE', mailbox: 'Archive' } },
  { client: 'imapflow', wire: '19 UNSUBSCRIBE Archive\r\n', expected: { tag: '19', name: 'UNSUBSCRIBE', mailbox: 'Archive' } },
  { client: 'imapflow', wire: '20 CLOSE\r\n', expected: { tag: '20', name: 'CLOSE' } },
  { client: 'imapflow', wire: '21 UNSELECT\r\n', expected: { tag: '21', name: 'UNSELECT' } },
  { client: 'imapflow', wire: '22 STARTTLS\r\n', expected: { tag: '22', name: 'STARTTLS' } },

  // --- mutt: aNNNN tags, unquoted atoms, header list in upper case ----------------------------
  { client: 'mutt', wire: 'a0000 CAPABILITY\r\n', expected: { tag: 'a0000', name: 'CAPABILITY' } },
  { client: 'mutt', wire: 'a0001 LOGIN bob "pa ss\\"word"\r\n', expected: { tag: 'a0001', name: 'LOGIN', username: 'bob', password: 'pa ss"word' } },
  {
    client: 'mutt',
    wire: 'a0002 LIST "" ""\r\n',
    expected: { tag: 'a0002', name: 'LIST', reference: '', patterns: [''], selectOptions: [], returnOptions: noReturn, extended: false },
  },
  { client: 'mutt', wire: 'a0003 SELECT "INBOX"\r\n', expected: { tag: 'a0003', name: 'SELECT', mailbox: 'INBOX', condstore: false, qresync: null } },
  {
    client: 'mutt',
    wire: 'a0004 FETCH 1:25 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL)])\r\n',
    expected: {
      tag: 'a0004',
      name: 'FETCH',
      uid: false,
      set: set('1:25'),
      attributes: [
        att('UID'),
        att('FLAGS'),
        att('INTERNALDATE'),
        att('RFC822.SIZE'),
        peekHeaderFields([
          'DATE',
          'FROM',
          'SENDER',
          'SUBJECT',
          'TO',
          'CC',
          'MESSAGE-ID',
          'REFERENCES',
          'CONTENT-TYPE',
          'CONTENT-DESCRIPTION',
          'IN-REPLY-TO',
          'REPLY-TO',
          'LINES',
          'LIST-POST',
          'X-LABEL',
        ]),
      ],
      macro: null,
      changedSince: null,
      vanished: false,
    },
  },
  {
    client: 'mutt',
    wire: 'a0005 UID STORE 1,3:5 +FLAGS.SILENT (\\Deleted)\r\n',
    expected: { tag: 'a0005', name: 'STORE', uid: true, set: set('1,3:5'), action: 'add', silent: true, flags: ['\\Deleted'], unchangedSince: null },
  },
  { client: 'mutt', wire: 'a0006 EXPUNGE\r\n', expected: { tag: 'a0006', name: 'EXPUNGE', uid: false } },
  {
    client: 'mutt',
    wire: 'a0007 UID SEARCH OR HEADER "Message-ID" "<a@b>" FROM bob\r\n',
    expected: {
      tag: 'a0007',
      name: 'SEARCH',
      uid: true,
      charset: null,
      criteria: and({ type: 'or', left: { type: 'header', field: 'Message-ID', value: '<a@b>' }, right: { type: 'from', value: 'bob' } }),
      returnOptions: null,
    },
  },
  {
    client: 'mutt',
    wire: 'a0008 UID FETCH 12 BODY.PEEK[]\r\n',
    expected: {
      tag: 'a0008',
      name: 'FETCH',
      uid: true,
      set: set('12'),
      attributes: [{ kind: 'BODY[]', peek: true, section: { part: [] }, partial: null }],
      macro: null,
      changedSince: null,
      vanished: false,
    },
  },
  { client: 'mutt', wire: 'a0009 CHECK\r\n', expected: { tag: 'a0009', name: 'CHECK' } },
  { client: 'mutt', wire: 'a0010 NOOP\r\n', expected: { tag: 'a0010', name: 'NOOP' } },

  // --- Apple Mail: dotted tags, QRESYNC, sequence searches ------------------------------------
  {
    client: 'apple-mail',
    wire: '1.1 ID ("name" "Mac OS X Mail" "version" "16.0 (3774.600.62)" "os" "Mac OS X" "os-version" "14.5 (23F79)" "vendor" "Apple Inc.")\r\n',
    expected: {
      tag: '1.1',
      name: 'ID',
      params: [
        ['name', 'Mac OS X Mail'],
        ['version', '16.0 (3774.600.62)'],
        ['os', 'Mac OS X'],
        ['os-version', '14.5 (23F79)'],
        ['vendor', 'Apple Inc.'],
      ],
    },
  },
  { client: 'apple-mail', wire: '2.3 ENABLE QRESYNC\r\n', expected: { tag: '2.3', name: 'ENABLE', capabilities: ['QRESYNC'] } },
  {
    client: 'apple-mail',
    wire: '3.4 SELECT INBOX (QRESYNC (1711540000 2345 1:210 (1,51,101 1,60,120)))\r\n',
    expected: {
      tag: '3.4',
      name: 'SELECT',
      mailbox: 'INBOX',
      condstore: false,
      qresync: { uidValidity: 1711540000, modSeq: 2345, knownUids: set('1:210'), seqMatch: { seqs: set('1,51,101'), uids: set('1,60,120') } },
    },
  },
  {
    client: 'apple-mail',
    wire: '4.5 UID SEARCH 1:* NOT DELETED\r\n',
    expected: {
      tag: '4.5',
      name: 'SEARCH',
      uid: true,
      charset: null,
      criteria: and({ type: 'seq', set: set('1:*') }, { type: 'not', key: { type: 'deleted' } }),
      returnOptions: null,
    },
  },
  {
    client: 'apple-mail',
    wire: '5.6 UID FETCH 203:* (FLAGS UID) (CHANGEDSINCE 2345)\r\n',
    expected: {
      tag: '5.6',
      name: 'FETCH',
      uid: true,
      set: set('203:*'),
      attributes: [att('FLAGS'), att('UID')],
      macro: null,
      changedSince: 2345,
      vanished: false,
    },
  },
  {
    client: 'apple-mail',
    wire: '6.7 UID FETCH 207 (BODYSTRUCTURE BODY.PEEK[HEADER] BODY.PEEK[2]<0.32768>)\r\n',
    expected: {
      tag: '6.7',
      name: 'FETCH',
      uid: true,
      set: set('207'),
      attributes: [
        att('BODYSTRUCTURE'),
        { kind: 'BODY[]', peek: true, section: { part: [], text: 'HEADER' }, partial: null },
        { kind: 'BODY[]', peek: true, section: { part: [2] }, partial: { offset: 0, length: 32768 } },
      ],
      macro: null,
      changedSince: null,
      vanished: false,
    },
  },
  {
    client: 'apple-mail',
    wire: '7.8 LIST "" "*"\r\n',
    expected: { tag: '7.8', name: 'LIST', reference: '', patterns: ['*'], selectOptions: [], returnOptions: noReturn, extended: false },
  },
  {
    client: 'apple-mail',
    wire: '8.9 UID SEARCH UNDELETED SINCE 14-Mar-2024 BODY "quarterly report"\r\n',
    expected: {
      tag: '8.9',
      name: 'SEARCH',
      uid: true,
      charset: null,
      criteria: and({ type: 'undeleted' }, { type: 'since', date: { year: 2024, month: 3, day: 14 } }, { type: 'body', value: 'quarterly report' }),
      returnOptions: null,
    },
  },

  // --- python imaplib: random 4-letter prefix tags, flags without parentheses -----------------
  { client: 'imaplib', wire: 'JDKO1 CAPABILITY\r\n', expected: { tag: 'JDKO1', name: 'CAPABILITY' } },
  { client: 'imaplib', wire: 'JDKO2 LOGIN alice "s3cret pw"\r\n', expected: { tag: 'JDKO2', name: 'LOGIN', username: 'alice', password: 's3cret pw' } },
  { client: 'imaplib', wire: 'JDKO3 SELECT INBOX\r\n', expected: { tag: 'JDKO3', name: 'SELECT', mailbox: 'INBOX', condstore: false, qresync: null } },
  { client: 'imaplib', wire: 'JDKO4 EXAMINE Sent\r\n', expected: { tag: 'JDKO4', name: 'EXAMINE', mailbox: 'Sent', condstore: false, qresync: null } },
  {
    client: 'imaplib',
    wire: 'JDKO5 SEARCH ALL\r\n',
    expected: { tag: 'JDKO5', name: 'SEARCH', uid: false, charset: null, criteria: and({ type: 'all' }), returnOptions: null },
  },
  {
    client: 'imaplib',
    wire: 'JDKO6 FETCH 1 (RFC822)\r\n',
    expected: { tag: 'JDKO6', name: 'FETCH', uid: false, set: set('1'), attributes: [att('RFC822')], macro: null, changedSince: null, vanished: false },
  },
  {
    client: 'imaplib',
    wire: 'JDKO7 STORE 1 +FLAGS \\Deleted\r\n',
    expected: { tag: 'JDKO7', name: 'STORE', uid: false, set: set('1'), action: 'add', silent: false, flags: ['\\Deleted'], unchangedSince: null },
  },
  {
    client: 'imaplib',
    wire: 'JDKO8 FETCH 2:4 (BODY[HEADER] FLAGS)\r\n',
    expected: {
      tag: 'JDKO8',
      name: 'FETCH',
      uid: false,
      set: set('2:4'),
      attributes: [{ kind: 'BODY[]', peek: false, section: { part: [], text: 'HEADER' }, partial: null }, att('FLAGS')],
      macro: null,
      changedSince: null,
      vanished: false,
    },
  },
  {
    client: 'imaplib',
    wire: 'JDKO9 FETCH 1 ALL\r\n',
    expected: {
      tag: 'JDKO9',
      name: 'FETCH',
      uid: false,
      set: set('1'),
      attributes: [att('FLAGS'), att('INTERNALDATE'), att('RFC822.SIZE'), att('ENVELOPE')],
      macro: 'ALL',
      changedSince: null,
      vanished: false,
    },
  },
  { client: 'imaplib', wire: 'JDKO10 COPY 1:3 Archive\r\n', expected: { tag: 'JDKO10', name: 'COPY', uid: false, set: set('1:3'), mailbox: 'Archive' } },
  {
    client: 'imaplib',
    wire: 'JDKO11 UID SEARCH CHARSET US-ASCII FROM "alice@example.org" SMALLER 10000\r\n',
    expected: {
      tag: 'JDKO11',
      name: 'SEARCH',
      uid: true,
      charset: 'US-ASCII',
      criteria: and({ type: 'from', value: 'alice@example.org' }, { type: 'smaller', size: 10000 }),
      returnOptions: null,
    },
  },
  {
    client: 'imaplib',
    wire: 'JDKO12 MOVE 2 Trash\r\n',
    expected: { tag: 'JDKO12', name: 'MOVE', uid: false, set: set('2'), mailbox: 'Trash' },
  },
  {
    client: 'imaplib',
    wire: 'JDKO13 STATUS INBOX (MESSAGES UNSEEN)\r\n',
    expected: { tag: 'JDKO13', name: 'STATUS', mailbox: 'INBOX', items: ['MESSAGES', 'UNSEEN'] },
  },
];

describe('parseCommand on real client traffic', () => {
  for (const c of cases) {
    it(`${c.client}: ${c.wire.split('\r\n')[0]}`, () => {
      expect(parseOne(c.wire)).toEqual(c.expected);
    });
  }
});

describe('parseCommand: APPEND', () => {
  it('imaplib: flags, date-time and a synchronizing literal', () => {
    const msg = 'From: a@b\r\nSubject: hi\r\n\r\nbody\r\n';
    const cmd = parseOne(`JDKO14 APPEND INBOX (\\Seen) "14-Mar-2024 09:05:03 +0100" {${msg.length}}\r\n${msg}\r\n`);
    expect(cmd).toEqual({
      tag: 'JDKO14',
      name: 'APPEND',
      mailbox: 'INBOX',
      messages: [
        {
          flags: ['\\Seen'],
          internalDate: { date: new Date('2024-03-14T08:05:03Z'), offsetMinutes: 60 },
          data: Buffer.from(msg),
          binary: false,
          utf8: false,
        },
      ],
    });
  });

  it('imapflow: LITERAL+ and a day with a leading space', () => {
    const cmd = parseOne('5 APPEND Sent (\\Seen $Forwarded) " 7-Jan-2025 23:59:59 -0800" {4+}\r\nabcd\r\n');
    expect(cmd.name === 'APPEND' && cmd.messages[0]?.internalDate?.date.toISOString()).toBe('2025-01-08T07:59:59.000Z');
    expect(cmd.name === 'APPEND' && cmd.messages[0]?.flags).toEqual(['\\Seen', '$Forwarded']);
  });

  it('MULTIAPPEND: several messages in one command', () => {
    const cmd = parseOne('A1 APPEND Drafts (\\Draft) {3}\r\none {3+}\r\ntwo (\\Seen) "01-Jan-2024 00:00:00 +0000" ~{5}\r\nth\0ee\r\n');
    if (cmd.name !== 'APPEND') throw new Error('not APPEND');
    expect(cmd.messages.map((m) => [m.flags, m.data.toString('latin1'), m.binary, m.internalDate?.date.toISOString() ?? null])).toEqual([
      [['\\Draft'], 'one', false, null],
      [[], 'two', false, null],
      [['\\Seen'], 'th\0ee', true, '2024-01-01T00:00:00.000Z'],
    ]);
  });

  it('RFC 6855 UTF8 (literal8)', () => {
    const cmd = parseOne('A2 APPEND INBOX UTF8 (~{5+}\r\nhello)\r\n');
    expect(cmd.name === 'APPEND' && cmd.messages[0]).toMatchObject({ utf8: true, binary: true, data: Buffer.from('hello') });
  });

  it('rejects a message sent as a quoted string', () => {
    expect(parseError('A3 APPEND INBOX "hello"\r\n').message).toMatch(/literal/);
  });
});

describe('parseCommand: mailbox names', () => {
  it('normalises INBOX in any case, keeps other names as written', () => {
    expect(parseOne('a SELECT inbox\r\n')).toMatchObject({ mailbox: 'INBOX' });
    expect(parseOne('a SELECT "InBoX"\r\n')).toMatchObject({ mailbox: 'INBOX' });
    expect(parseOne('a SELECT Inbox/Sub\r\n')).toMatchObject({ mailbox: 'Inbox/Sub' });
  });

  it('decodes modified UTF-7, and UTF-8 when UTF8=ACCEPT is on', () => {
    expect(parseOne('a SELECT "Entw&APw-rfe"\r\n')).toMatchObject({ mailbox: 'Entwürfe' });
    expect(parseOne('a CREATE "Tom &- Jerry"\r\n')).toMatchObject({ mailbox: 'Tom & Jerry' });
    expect(parseOne('a SELECT "Entwürfe"\r\n', true)).toMatchObject({ mailbox: 'Entwürfe' });
    expect(parseOne('a SELECT "Tom & Jerry"\r\n', true)).toMatchObject({ mailbox: 'Tom & Jerry' });
    // 8-bit names are taken as UTF-8 even without UTF8=ACCEPT (clients that ignore mUTF-7).
    expect(parseOne('a SELECT "Entwürfe"\r\n')).toMatchObject({ mailbox: 'Entwürfe' });
  });

  it('rejects invalid modified UTF-7 and invalid UTF-8 with the tag', () => {
    expect(parseError('x1 SELECT "Tom & Jerry"\r\n').tag).toBe('x1');
    expect(parseError(Buffer.from('x2 SELECT "\xff\xfe"\r\n', 'latin1')).tag).toBe('x2');
  });

  it('CREATE with USE (RFC 6154)', () => {
    expect(parseOne('a CREATE MySent (USE (\\Sent))\r\n')).toEqual({ tag: 'a', name: 'CREATE', mailbox: 'MySent', specialUse: ['\\Sent'] });
  });

  it('LIST-EXTENDED with several patterns and RECURSIVEMATCH', () => {
    expect(parseOne('a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Archive/%")\r\n')).toEqual({
      tag: 'a',
      name: 'LIST',
      reference: '',
      patterns: ['INBOX', 'Archive/%'],
      selectOptions: ['SUBSCRIBED', 'RECURSIVEMATCH'],
      returnOptions: noReturn,
      extended: true,
    });
    expect(parseError('a LIST (RECURSIVEMATCH) "" "*"\r\n').message).toMatch(/RECURSIVEMATCH/);
    expect(parseError('a LIST (BOGUS) "" "*"\r\n').tag).toBe('a');
    expect(parseOne('a LIST (REMOTE SPECIAL-USE) "" %\r\n')).toMatchObject({ selectOptions: ['REMOTE', 'SPECIAL-USE'], patterns: ['%'] });
  });
});

describe('parseCommand: SEARCH', () => {
  const criteria = (wire: string): SearchKey => {
    const c = parseOne(wire);
    if (c.name !== 'SEARCH') throw new Error('not SEARCH');
    return c.criteria;
  };

  it('parses every RFC 9051 §6.4.4 key', () => {
    const wire =
      'a SEARCH ALL ANSWERED BCC x BEFORE 1-Feb-2024 BODY y CC z DELETED DRAFT FLAGGED FROM f HEADER X-Spam yes ' +
      'KEYWORD $Junk LARGER 100 NEW NOT SEEN OLD ON "02-Feb-2024" OR RECENT UNSEEN SEEN SENTBEFORE 3-Mar-2023 ' +
      'SENTON 4-Apr-2023 SENTSINCE 5-May-2023 SINCE 6-Jun-2023 SMALLER 200 SUBJECT s TEXT t TO u UID 1:5 ' +
      'UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $Phishing 2,4:* (SEEN FLAGGED) MODSEQ 77 ' +
      'MODSEQ "/flags/\\\\draft" all 620162338 OLDER 3600 YOUNGER 60\r\n';
    const c = criteria(wire);
    expect(c.type === 'and' && c.keys.map((k) => k.type)).toEqual([
      'all',
      'answered',
      'bcc',
      'before',
      'body',
      'cc',
      'deleted',
      'draft',
      'flagged',
      'from',
      'header',
      'keyword',
      'larger',
      'new',
      'not',
      'old',
      'on',
      'or',
      'seen',
      'sentbefore',
      'senton',
      'sentsince',
      'since',
      'smaller',
      'subject',
      'text',
      'to',
      'uid',
      'unanswered',
      'undeleted',
      'undraft',
      'unflagged',
      'unkeyword',
      'seq',
      'and',
      'modseq',
      'modseq',
      'older',
      'younger',
    ]);
    expect(c.type === 'and' && c.keys[35]).toEqual({ type: 'modseq', modseq: 77, entry: null });
    expect(c.type === 'and' && c.keys[36]).toEqual({ type: 'modseq', modseq: 620162338, entry: { name: '/flags/\\draft', type: 'all' } });
    expect(c.type === 'and' && c.keys[17]).toEqual({ type: 'or', left: { type: 'recent' }, right: { type: 'unseen' } });
  });

  it('nests OR, NOT and parentheses', () => {
    expect(criteria('a SEARCH OR (FROM a SUBJECT b) NOT (OR TO c CC d)\r\n')).toEqual(
      and({
        type: 'or',
        left: and({ type: 'from', value: 'a' }, { type: 'subject', value: 'b' }),
        right: { type: 'not', key: and({ type: 'or', left: { type: 'to', value: 'c' }, right: { type: 'cc', value: 'd' } }) },
      }),
    );
  });

  it('ESEARCH RETURN options, SAVE and $ (RFC 4731, RFC 5182)', () => {
    expect(parseOne('a UID SEARCH RETURN (MIN MAX COUNT SAVE) FLAGGED\r\n')).toMatchObject({ returnOptions: ['MIN', 'MAX', 'COUNT', 'SAVE'] });
    expect(parseOne('a SEARCH RETURN () UNSEEN\r\n')).toMatchObject({ returnOptions: ['ALL'] });
    expect(criteria('a UID SEARCH $ SEEN\r\n')).toEqual(and({ type: 'seq', set: { kind: 'saved' } }, { type: 'seen' }));
    expect(parseOne('a UID FETCH $ (FLAGS)\r\n')).toMatchObject({ set: { kind: 'saved' } });
    expect(parseError('a SEARCH RETURN (PARTIAL) ALL\r\n').tag).toBe('a');
  });

  it('answers an unknown charset with NO [BADCHARSET]', () => {
    const e = parseError('a SEARCH CHARSET KOI8-R TEXT x\r\n');
    expect(e.status).toBe('NO');
    expect(e.code).toEqual({ code: 'BADCHARSET', charsets: ['UTF-8', 'US-ASCII'] });
    expect(e.tag).toBe('a');
  });

  it('takes literal strings', () => {
    expect(criteria('a SEARCH CHARSET UTF-8 TEXT {6}\r\nпри\r\n')).toEqual(and({ type: 'text', value: 'при' }));
  });

  it('rejects bad dates, unknown keys and deep nesting', () => {
    expect(parseError('a SEARCH SINCE 31-Feb-2024\r\n').message).toMatch(/date/);
    expect(parseError('a SEARCH SINCE 2024-02-01\r\n').tag).toBe('a');
    expect(parseError('a SEARCH FOO\r\n').message).toMatch(/FOO/);
    expect(parseError(`a SEARCH ${'NOT '.repeat(200)}SEEN\r\n`).message).toMatch(/deep/);
    expect(parseError(`a SEARCH ${'('.repeat(200)}SEEN${')'.repeat(200)}\r\n`).message).toMatch(/deep/);
  });
});

describe('parseCommand: FETCH', () => {
  const fetch = (wire: string): Extract<Command, { name: 'FETCH' }> => {
    const c = parseOne(wire);
    if (c.name !== 'FETCH') throw new Error('not FETCH');
    return c;
  };

  it('expands the macros', () => {
    expect(fetch('a FETCH 1 FAST\r\n').attributes.map((x) => x.kind)).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    expect(fetch('a FETCH 1 full\r\n').attributes.map((x) => x.kind)).toEqual(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']);
  });

  it('parses every section form and BINARY', () => {
    const f = fetch(
      'a FETCH 1 (BODY[] BODY[TEXT] BODY[HEADER.FIELDS.NOT (Received)] BODY[1.2.3] BODY[4.TEXT] BODY[4.HEADER] BODY[1]<10.20> ' +
        'BINARY[1] BINARY.PEEK[2.1]<0.100> BINARY.SIZE[3] BINARY[] RFC822.HEADER RFC822.TEXT BODY)\r\n',
    );
    expect(f.attributes).toEqual([
      { kind: 'BODY[]', peek: false, section: { part: [] }, partial: null },
      { kind: 'BODY[]', peek: false, section: { part: [], text: 'TEXT' }, partial: null },
      { kind: 'BODY[]', peek: false, section: { part: [], text: 'HEADER.FIELDS.NOT', fields: ['Received'] }, partial: null },
      { kind: 'BODY[]', peek: false, section: { part: [1, 2, 3] }, partial: null },
      { kind: 'BODY[]', peek: false, section: { part: [4], text: 'TEXT' }, partial: null },
      { kind: 'BODY[]', peek: false, section: { part: [4], text: 'HEADER' }, partial: null },
      { kind: 'BODY[]', peek: false, section: { part: [1] }, partial: { offset: 10, length: 20 } },
      { kind: 'BINARY[]', peek: false, part: [1], partial: null },
      { kind: 'BINARY[]', peek: true, part: [2, 1], partial: { offset: 0, length: 100 } },
      { kind: 'BINARY.SIZE', part: [3] },
      { kind: 'BINARY[]', peek: false, part: [], partial: null },
      { kind: 'RFC822.HEADER' },
      { kind: 'RFC822.TEXT' },
      { kind: 'BODY' },
    ]);
  });

  it('does not allocate per message for 1:*', () => {
    expect(fetch('a UID FETCH 1:* (FLAGS)\r\n').set).toEqual({ kind: 'set', ranges: [{ from: 1, to: '*' }] });
  });

  it('rejects bad sections, modifiers and VANISHED misuse', () => {
    expect(parseError('a FETCH 1 (BODY[MIME])\r\n').message).toMatch(/MIME/);
    expect(parseError('a FETCH 1 (BODY[0])\r\n').tag).toBe('a');
    expect(parseError('a FETCH 1 (BODY[HEADER.FIELDS ()])\r\n').tag).toBe('a');
    expect(parseError('a FETCH 1 (BINARY[TEXT])\r\n').tag).toBe('a');
    expect(parseError('a FETCH 1 (BODY[]<5.0>)\r\n').tag).toBe('a');
    expect(parseError('a FETCH 1 (FLAGS) (VANISHED)\r\n').message).toMatch(/VANISHED/);
    expect(parseError('a UID FETCH 1 (FLAGS) (VANISHED)\r\n').message).toMatch(/VANISHED/);
    expect(parseError('a FETCH 1 (FLAGS) (FOO 1)\r\n').tag).toBe('a');
    expect(parseError('a FETCH 1 ()\r\n').tag).toBe('a');
    expect(parseError('a FETCH 0 FLAGS\r\n').tag).toBe('a');
    expect(parseError('a FETCH 1:4294967296 FLAGS\r\n').tag).toBe('a');
  });
});

describe('parseCommand: errors carry the tag', () => {
  const bad: Array<[string, string | null]> = [
    ['\r\n', null],
    ['   \r\n', null],
    ['* NOOP\r\n', null],
    ['+ NOOP\r\n', null],
    ['A1\r\n', 'A1'],
    ['A1 \r\n', 'A1'],
    ['A1 FROB\r\n', 'A1'],
    ['A1 NOOP extra\r\n', 'A1'],
    ['A1 NOOP \r\n', 'A1'],
    ['A1 LOGIN onlyuser\r\n', 'A1'],
    ['A1 LOGIN "unterminated\r\n', 'A1'],
    ['A1 LOGIN "bad\\escape" x\r\n', 'A1'],
    ['A1 SELECT\r\n', 'A1'],
    ['A1 SELECT INBOX (FOO)\r\n', 'A1'],
    ['A1 SELECT INBOX (QRESYNC (0 1))\r\n', 'A1'],
    ['A1 STATUS INBOX (FOO)\r\n', 'A1'],
    ['A1 STATUS INBOX ()\r\n', 'A1'],
    ['A1 STORE 1 FLAGS\r\n', 'A1'],
    ['A1 STORE 1 XFLAGS (\\Seen)\r\n', 'A1'],
    ['A1 STORE 1 +FLAGS (\\)\r\n', 'A1'],
    ['A1 COPY 1:x INBOX\r\n', 'A1'],
    ['A1 UID FROB 1\r\n', 'A1'],
    ['A1 UID EXPUNGE\r\n', 'A1'],
    ['A1 AUTHENTICATE PLAIN !!!\r\n', 'A1'],
    ['A1 ENABLE\r\n', 'A1'],
    ['A1 ID ("a")\r\n', 'A1'],
    ['A1 APPEND INBOX (\\Seen) "31-Foo-2024 00:00:00 +0000" {1+}\r\nx\r\n', 'A1'],
    ['A1 APPEND INBOX {1+}\r\nx garbage\r\n', 'A1'],
    ['A1 SELECT "a\0b"\r\n', 'A1'],
  ];
  for (const [wire, tag] of bad) {
    it(JSON.stringify(wire), () => {
      const e = parseError(wire);
      expect(e).toBeInstanceOf(ImapParseError);
      expect(e.tag).toBe(tag);
      expect(e.status).toBe('BAD');
    });
  }

  it('names the command in the error', () => {
    expect(parseError('A1 UID FETCH 1 (FOO)\r\n').command).toBe('UID FETCH');
  });
});
