/**
 * Response serialization: exact bytes, and every response read back by imapflow's own response
 * parser (the stream splitter and the parser a real client runs), so what we send is what a
 * client understands.
 */
import { parser } from 'imapflow/lib/handler/imap-handler.js';
import { ImapStream } from 'imapflow/lib/handler/imap-stream.js';
import { describe, expect, it } from 'vitest';
import {
  capabilityResponse,
  continuation,
  enabledResponse,
  esearchResponse,
  existsResponse,
  expungeResponse,
  fetchResponse,
  fetchResponseText,
  flagsResponse,
  framingErrorResponse,
  idResponse,
  parseErrorResponse,
  listResponse,
  namespaceResponse,
  searchResponse,
  statusResponse,
  taggedResponse,
  untaggedStatus,
  vanishedResponse,
} from './response.js';
import { formatResponseCode, type ResponseCode } from './response-code.js';
import { parseSequenceSet } from './sequence.js';
import { FramingError, ImapParseError } from './errors.js';

const text = (b: Buffer | Buffer[]): string => (Array.isArray(b) ? Buffer.concat(b) : b).toString('utf8');

/** Runs bytes through imapflow's ImapStream and parser; returns the parsed responses. */
async function imapflowParse(bytes: Buffer | Buffer[]): Promise<unknown[]> {
  const stream = new ImapStream({ logger: false });
  const items: Array<{ payload: Buffer; literals: Buffer[]; next: () => void }> = [];
  stream.on('data', (item: { payload: Buffer; literals: Buffer[]; next: () => void }) => {
    items.push(item);
    item.next();
  });
  for (const b of Array.isArray(bytes) ? bytes : [bytes]) stream.write(b);
  await new Promise<void>((resolve) => stream.end(resolve));
  const out: unknown[] = [];
  for (const item of items) out.push(await parser(item.payload, { literals: item.literals }));
  return out;
}

describe('status responses and codes', () => {
  const codes: Array<[ResponseCode, string]> = [
    [{ code: 'TRYCREATE' }, '[TRYCREATE]'],
    [{ code: 'ALREADYEXISTS' }, '[ALREADYEXISTS]'],
    [{ code: 'NONEXISTENT' }, '[NONEXISTENT]'],
    [{ code: 'OVERQUOTA' }, '[OVERQUOTA]'],
    [{ code: 'CANNOT' }, '[CANNOT]'],
    [{ code: 'LIMIT' }, '[LIMIT]'],
    [{ code: 'TOOBIG' }, '[TOOBIG]'],
    [{ code: 'CLOSED' }, '[CLOSED]'],
    [{ code: 'AUTHENTICATIONFAILED' }, '[AUTHENTICATIONFAILED]'],
    [{ code: 'UNAVAILABLE' }, '[UNAVAILABLE]'],
    [{ code: 'PRIVACYREQUIRED' }, '[PRIVACYREQUIRED]'],
    [{ code: 'CLIENTBUG' }, '[CLIENTBUG]'],
    [{ code: 'SERVERBUG' }, '[SERVERBUG]'],
    [{ code: 'BADCHARSET', charsets: ['UTF-8', 'US-ASCII'] }, '[BADCHARSET (UTF-8 US-ASCII)]'],
    [{ code: 'BADCHARSET' }, '[BADCHARSET]'],
    [{ code: 'APPENDUID', uidValidity: 38505, uids: 3955 }, '[APPENDUID 38505 3955]'],
    [{ code: 'APPENDUID', uidValidity: 38505, uids: [3955, 3956, 3957] }, '[APPENDUID 38505 3955:3957]'],
    [{ code: 'COPYUID', uidValidity: 38505, sourceUids: [304, 319, 320], destinationUids: [3956, 3957, 3958] }, '[COPYUID 38505 304,319:320 3956:3958]'],
    [{ code: 'COPYUID', uidValidity: 1, sourceUids: parseSequenceSet('1:3'), destinationUids: parseSequenceSet('7:9') }, '[COPYUID 1 1:3 7:9]'],
    [{ code: 'HIGHESTMODSEQ', value: 715194045007 }, '[HIGHESTMODSEQ 715194045007]'],
    [{ code: 'MODIFIED', set: [7, 9] }, '[MODIFIED 7,9]'],
    [{ code: 'UIDVALIDITY', value: 3857529045 }, '[UIDVALIDITY 3857529045]'],
    [{ code: 'UIDNEXT', value: 4392 }, '[UIDNEXT 4392]'],
    [{ code: 'PERMANENTFLAGS', flags: ['\\Deleted', '\\Seen', '\\*'] }, '[PERMANENTFLAGS (\\Deleted \\Seen \\*)]'],
    [{ code: 'CAPABILITY', capabilities: ['IMAP4rev1', 'IDLE'] }, '[CAPABILITY IMAP4rev1 IDLE]'],
    [{ code: 'READ-ONLY' }, '[READ-ONLY]'],
    [{ code: 'MAILBOXID', id: 'F2212ea87-6097-4256-9d51-71338625' }, '[MAILBOXID (F2212ea87-6097-4256-9d51-71338625)]'],
  ];
  for (const [code, wire] of codes) {
    it(wire, () => expect(formatResponseCode(code)).toBe(wire));
  }

  it('tagged, untagged and continuation lines', async () => {
    expect(text(taggedResponse('A1', 'OK', 'Append completed', { code: 'APPENDUID', uidValidity: 7, uids: 12 }))).toBe(
      'A1 OK [APPENDUID 7 12] Append completed\r\n',
    );
    expect(text(taggedResponse('A2', 'NO', 'No such mailbox', { code: 'TRYCREATE' }))).toBe('A2 NO [TRYCREATE] No such mailbox\r\n');
    expect(text(taggedResponse('A3', 'BAD', ''))).toBe('A3 BAD error\r\n');
    expect(text(taggedResponse('A4', 'OK', 'evil\r\nA5 OK injected'))).toBe('A4 OK evil A5 OK injected\r\n');
    expect(text(untaggedStatus('OK', 'Flags permitted', { code: 'PERMANENTFLAGS', flags: ['\\Seen', '\\*'] }))).toBe(
      '* OK [PERMANENTFLAGS (\\Seen \\*)] Flags permitted\r\n',
    );
    expect(text(untaggedStatus('BYE', 'Logging out'))).toBe('* BYE Logging out\r\n');
    expect(text(continuation())).toBe('+ \r\n');
    expect(text(continuation('Ready'))).toBe('+ Ready\r\n');
    const parsed = await imapflowParse([taggedResponse('A1', 'OK', 'done', { code: 'COPYUID', uidValidity: 9, sourceUids: [1, 2], destinationUids: [5, 6] })]);
    const ok = parsed[0] as { tag: string; command: string; attributes: Array<{ section?: Array<{ value: string }>; value: string }> };
    expect([ok.tag, ok.command]).toEqual(['A1', 'OK']);
    expect(ok.attributes[0]?.section?.map((a) => a.value)).toEqual(['COPYUID', '9', '1:2', '5:6']);
    expect(ok.attributes[1]?.value).toBe('done');
  });
});

describe('error replies', () => {
  it('parse errors: tagged BAD, NO [BADCHARSET], untagged BAD', () => {
    expect(text(parseErrorResponse(new ImapParseError('Unknown command "FROB"', 'A1')))).toBe('A1 BAD Unknown command "FROB"\r\n');
    expect(text(parseErrorResponse(new ImapParseError('Unsupported charset', 'A2', 'SEARCH', 'NO', { code: 'BADCHARSET', charsets: ['UTF-8'] })))).toBe(
      'A2 NO [BADCHARSET (UTF-8)] Unsupported charset\r\n',
    );
    expect(text(parseErrorResponse(new ImapParseError('Missing or invalid tag', null)))).toBe('* BAD Missing or invalid tag\r\n');
  });

  it('framing errors: NO/BAD [TOOBIG], BYE when fatal', () => {
    expect(text(framingErrorResponse(new FramingError('LITERAL_TOO_BIG', 'Too big', 'A1', false)))).toBe('A1 NO [TOOBIG] Too big\r\n');
    expect(text(framingErrorResponse(new FramingError('LINE_TOO_LONG', 'Too long', 'A2', false)))).toBe('A2 BAD [TOOBIG] Too long\r\n');
    expect(text(framingErrorResponse(new FramingError('LINE_TOO_LONG', 'Too long', null, false)))).toBe('* BAD [TOOBIG] Too long\r\n');
    expect(text(framingErrorResponse(new FramingError('BUFFER_OVERFLOW', 'Flood', 'A3', true)))).toBe('* BYE [TOOBIG] Flood\r\n');
  });
});

describe('untagged data', () => {
  it('mailbox size, expunge, vanished, flags', () => {
    expect(text(existsResponse(3))).toBe('* 3 EXISTS\r\n');
    expect(text(expungeResponse(2))).toBe('* 2 EXPUNGE\r\n');
    expect(text(vanishedResponse([1, 2, 3, 4, 5], true))).toBe('* VANISHED (EARLIER) 1:5\r\n');
    expect(text(vanishedResponse(parseSequenceSet('41,43:116'), false))).toBe('* VANISHED 41,43:116\r\n');
    expect(text(flagsResponse(['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft']))).toBe(
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n',
    );
    expect(text(capabilityResponse(['IMAP4rev1', 'LITERAL+', 'IDLE']))).toBe('* CAPABILITY IMAP4rev1 LITERAL+ IDLE\r\n');
    expect(text(enabledResponse(['CONDSTORE']))).toBe('* ENABLED CONDSTORE\r\n');
    expect(text(enabledResponse([]))).toBe('* ENABLED\r\n');
  });

  it('LIST with attributes, NIL delimiter, encoded names and extended data', async () => {
    expect(text(listResponse({ attributes: ['\\HasNoChildren', '\\Sent'], delimiter: '/', name: 'Sent' }))).toBe(
      '* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n',
    );
    expect(text(listResponse({ attributes: [], delimiter: null, name: 'Entwürfe' }))).toBe('* LIST () NIL Entw&APw-rfe\r\n');
    expect(text(listResponse({ attributes: [], delimiter: '/', name: 'Entwürfe' }, { utf8Accept: true }))).toBe('* LIST () "/" "Entwürfe"\r\n');
    expect(text(listResponse({ attributes: [], delimiter: '\\', name: 'Sent Items' }, { command: 'LSUB' }))).toBe('* LSUB () "\\\\" "Sent Items"\r\n');
    expect(text(listResponse({ attributes: ['\\NonExistent'], delimiter: '/', name: 'NIL' }))).toBe('* LIST (\\NonExistent) "/" "NIL"\r\n');
    const withExt = listResponse({ attributes: ['\\Subscribed'], delimiter: '/', name: 'Foo', childInfo: ['SUBSCRIBED'], oldName: 'Bar' });
    expect(text(withExt)).toBe('* LIST (\\Subscribed) "/" Foo ("CHILDINFO" ("SUBSCRIBED") "OLDNAME" (Bar))\r\n');
    const parsed = await imapflowParse([listResponse({ attributes: ['\\HasChildren'], delimiter: '/', name: 'a "quoted" name' })]);
    expect(parsed[0]).toMatchObject({ command: 'LIST', attributes: [[{ value: '\\HasChildren' }], { value: '/' }, { value: 'a "quoted" name' }] });
  });

  it('STATUS, SEARCH, ESEARCH, NAMESPACE, ID', async () => {
    expect(text(statusResponse('blurdybloop', { MESSAGES: 231, UIDNEXT: 44292 }))).toBe('* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n');
    expect(text(statusResponse('INBOX', { HIGHESTMODSEQ: 7, MAILBOXID: 'Fabc' }))).toBe('* STATUS INBOX (HIGHESTMODSEQ 7 MAILBOXID (Fabc))\r\n');
    expect(text(searchResponse([1, 2]))).toBe('* SEARCH 1 2\r\n');
    expect(text(searchResponse([]))).toBe('* SEARCH\r\n');
    expect(text(searchResponse([2, 5, 6], 917162500))).toBe('* SEARCH 2 5 6 (MODSEQ 917162500)\r\n');
    expect(text(esearchResponse({ tag: 'a', uid: true, all: [1, 2, 3] }))).toBe('* ESEARCH (TAG "a") UID ALL 1:3\r\n');
    expect(text(esearchResponse({ tag: 'A282', uid: false, min: 2, max: 3, count: 2, all: [] }))).toBe('* ESEARCH (TAG "A282") MIN 2 MAX 3 COUNT 2\r\n');
    expect(text(namespaceResponse([{ prefix: '', delimiter: '/' }], null, null))).toBe('* NAMESPACE (("" "/")) NIL NIL\r\n');
    expect(
      text(
        idResponse([
          ['name', 'Postern'],
          ['version', null],
        ]),
      ),
    ).toBe('* ID ("name" "Postern" "version" NIL)\r\n');
    expect(text(idResponse(null))).toBe('* ID NIL\r\n');
    const parsed = await imapflowParse([
      statusResponse('Sent Items', { MESSAGES: 3, UNSEEN: 1 }),
      esearchResponse({ tag: 'x', uid: true, count: 3, all: [4, 5, 9] }),
    ]);
    expect(parsed[0]).toMatchObject({
      command: 'STATUS',
      attributes: [{ value: 'Sent Items' }, [{ value: 'MESSAGES' }, { value: '3' }, { value: 'UNSEEN' }, { value: '1' }]],
    });
    expect(parsed[1]).toMatchObject({
      command: 'ESEARCH',
      attributes: [[{ value: 'TAG' }, { value: 'x' }], { value: 'UID' }, { value: 'COUNT' }, { value: '3' }, { value: 'ALL' }, { value: '4:5,9' }],
    });
  });
});

describe('FETCH responses', () => {
  it('passes message data through uncopied, as literals', async () => {
    const body = Buffer.from('Subject: hi\r\n\r\nhello\r\n');
    const chunks = fetchResponse(12, [
      { kind: 'UID', value: 5 },
      { kind: 'FLAGS', flags: ['\\Seen'] },
      { kind: 'INTERNALDATE', date: new Date('1996-07-17T09:44:25Z'), offsetMinutes: -420 },
      { kind: 'RFC822.SIZE', value: body.length },
      { kind: 'MODSEQ', value: 624140003 },
      { kind: 'ENVELOPE', value: '(NIL "hi" NIL NIL NIL NIL NIL NIL NIL NIL)' },
      { kind: 'BODY[]', section: { part: [], text: 'HEADER.FIELDS', fields: ['Subject', 'From'] }, data: body.subarray(0, 13) },
      { kind: 'BODY[]', section: { part: [] }, origin: 0, data: body },
    ]);
    expect(chunks.some((c) => c === body)).toBe(true);
    expect(text(chunks)).toBe(
      `* 12 FETCH (UID 5 FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE ${body.length} MODSEQ (624140003) ` +
        `ENVELOPE (NIL "hi" NIL NIL NIL NIL NIL NIL NIL NIL) BODY[HEADER.FIELDS (Subject From)] {13}\r\nSubject: hi\r\n ` +
        `BODY[]<0> {${body.length}}\r\n${body.toString()})\r\n`,
    );
    const [parsed] = (await imapflowParse(chunks)) as Array<{ attributes: unknown[] }>;
    const list = parsed?.attributes[1] as Array<{ type: string; value: unknown }>;
    expect(list.at(-1)).toEqual({ type: 'LITERAL', value: body });
  });

  it('uses literal8 for BINARY data holding NUL, NIL for missing data, BINARY.SIZE', async () => {
    const bin = Buffer.from([0x61, 0x00, 0x62]);
    const chunks = fetchResponse(1, [
      { kind: 'BINARY[]', part: [1], data: bin },
      { kind: 'BINARY[]', part: [2], origin: 10, data: Buffer.from('plain') },
      { kind: 'BINARY.SIZE', part: [1], size: 3 },
      { kind: 'BODY[]', section: { part: [9] }, data: null },
      { kind: 'RFC822.TEXT', data: Buffer.from('x') },
    ]);
    expect(text(chunks)).toBe('* 1 FETCH (BINARY[1] ~{3}\r\na\0b BINARY[2]<10> {5}\r\nplain BINARY.SIZE[1] 3 BODY[9] NIL RFC822.TEXT {1}\r\nx)\r\n');
    const [parsed] = (await imapflowParse(chunks)) as Array<{ attributes: unknown[] }>;
    const list = parsed?.attributes[1] as Array<{ type: string; value: unknown }>;
    expect(list[1]).toEqual({ type: 'LITERAL', value: bin });
  });
});

describe('fetchResponseText', () => {
  it('is the same response as fetchResponse for items without message data', () => {
    const items = [
      { kind: 'UID', value: 7 },
      { kind: 'FLAGS', flags: ['\\Seen', '$Label1'] },
      { kind: 'MODSEQ', value: 12 },
      { kind: 'RFC822.SIZE', value: 2048 },
      { kind: 'INTERNALDATE', date: new Date('2026-11-28T10:00:00Z') },
      { kind: 'ENVELOPE', value: '(NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL)' },
      { kind: 'BINARY.SIZE', part: [1, 2], size: 10 },
    ] as const;
    const text = fetchResponseText(3, items);
    expect(text).toBe(Buffer.concat(fetchResponse(3, items)).toString('utf8'));
    expect(text).toBe(
      '* 3 FETCH (UID 7 FLAGS (\\Seen $Label1) MODSEQ (12) RFC822.SIZE 2048 INTERNALDATE "28-Nov-2026 10:00:00 +0000" ENVELOPE (NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL) BINARY.SIZE[1.2] 10)\r\n',
    );
  });
});
