/**
 * fast-check generators of well-formed commands, in the canonical shape `parseCommand` returns
 * (system flags in canonical case, INBOX normalised, macros expanded, ...), so that
 * `parseCommand(formatCommand(c))` must equal `c`.
 */
import fc from 'fast-check';
import {
  FETCH_MACROS,
  normalizeMailboxName,
  STATUS_ITEMS,
  type AppendMessage,
  type BodySection,
  type Command,
  type FetchAttribute,
  type ListSelectOption,
  type SearchKey,
  type SearchReturnOption,
  type SequenceSet,
  type StatusItem,
} from '../src/index.js';

export const tag = fc.stringMatching(/^[A-Za-z0-9.]{1,8}$/);

/** Any text without NUL (CHAR8 excludes it), including CR, LF, quotes and non-ASCII. */
export const text = fc.string({
  unit: fc.oneof(
    fc.constantFrom('"', '\\', '\r', '\n', ' ', '*', '%', '&', '(', ')', '{', '}', ']'),
    fc.constantFrom(...'aZ09-._~é€台📬'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }).filter((c) => !c.includes('\0')),
  ),
  maxLength: 16,
});

export const mailbox = text.map(normalizeMailboxName);

const atom = fc.stringMatching(/^[A-Za-z0-9$_\-.]{1,10}$/);
const keywordFlag = fc.stringMatching(/^[A-Za-z$][A-Za-z0-9$_-]{0,10}$/);
const systemFlag = fc.constantFrom('\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft');
const specialUse = fc.constantFrom('\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash');
export const flags = fc.array(fc.oneof(systemFlag, keywordFlag), { maxLength: 4 });

const nz = fc.integer({ min: 1, max: 0xffffffff });
const num64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const seqNumber = fc.oneof(nz, fc.constant<'*'>('*'));
export const concreteSet: fc.Arbitrary<SequenceSet> = fc
  .array(
    fc.oneof(
      seqNumber.map((n) => ({ from: n, to: n })),
      fc.record({ from: seqNumber, to: seqNumber }),
    ),
    { minLength: 1, maxLength: 5 },
  )
  .map((ranges) => ({ kind: 'set' as const, ranges }));
export const sequenceSet: fc.Arbitrary<SequenceSet> = fc.oneof(
  { weight: 9, arbitrary: concreteSet },
  { weight: 1, arbitrary: fc.constant<SequenceSet>({ kind: 'saved' }) },
);

const date = fc.record({ year: fc.integer({ min: 1900, max: 2200 }), month: fc.integer({ min: 1, max: 12 }), day: fc.integer({ min: 1, max: 28 }) });

const simpleKeys = [
  'all',
  'answered',
  'deleted',
  'draft',
  'flagged',
  'seen',
  'recent',
  'new',
  'old',
  'unanswered',
  'undeleted',
  'undraft',
  'unflagged',
  'unseen',
] as const;
const stringKeys = ['bcc', 'body', 'cc', 'from', 'subject', 'text', 'to'] as const;
const dateKeys = ['before', 'on', 'since', 'sentbefore', 'senton', 'sentsince'] as const;

const { key: searchKey } = fc.letrec<{ key: SearchKey }>((tie) => ({
  key: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...simpleKeys).map((type) => ({ type }) as SearchKey),
    fc.record({ type: fc.constantFrom(...stringKeys), value: text }),
    fc.record({ type: fc.constantFrom(...dateKeys), date }),
    fc.record({ type: fc.constantFrom('keyword' as const, 'unkeyword' as const), flag: keywordFlag }),
    fc.record({ type: fc.constant('header' as const), field: text, value: text }),
    fc.record({ type: fc.constantFrom('larger' as const, 'smaller' as const), size: num64 }),
    fc.record({ type: fc.constantFrom('older' as const, 'younger' as const), seconds: nz }),
    fc.record({ type: fc.constant('uid' as const), set: sequenceSet }),
    fc.record({ type: fc.constant('seq' as const), set: sequenceSet }),
    fc.record({
      type: fc.constant('modseq' as const),
      modseq: num64,
      entry: fc.option(fc.record({ name: keywordFlag.map((k) => `/flags/${k}`), type: fc.constantFrom('priv' as const, 'shared' as const, 'all' as const) }), {
        nil: null,
      }),
    }),
    fc.record({ type: fc.constant('not' as const), key: tie('key') }),
    fc.record({ type: fc.constant('or' as const), left: tie('key'), right: tie('key') }),
    fc.record({ type: fc.constant('and' as const), keys: fc.array(tie('key'), { minLength: 1, maxLength: 3 }) }),
  ),
}));

const part = fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 3 });
const section: fc.Arbitrary<BodySection> = fc.oneof(
  part.map((p) => ({ part: p })),
  fc.record({ part, text: fc.constantFrom('HEADER' as const, 'TEXT' as const) }),
  fc.record({ part: part.filter((p) => p.length > 0), text: fc.constant('MIME' as const) }),
  fc.record({
    part,
    text: fc.constantFrom('HEADER.FIELDS' as const, 'HEADER.FIELDS.NOT' as const),
    fields: fc.array(fc.oneof(fc.constantFrom('From', 'To', 'Subject', 'Message-ID', 'x-spam'), text), { minLength: 1, maxLength: 4 }),
  }),
);
const partial = fc.option(fc.record({ offset: num64, length: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) }), { nil: null });

const fetchAttribute: fc.Arbitrary<FetchAttribute> = fc.oneof(
  fc
    .constantFrom(
      ...(['ENVELOPE', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'UID', 'MODSEQ', 'BODYSTRUCTURE', 'BODY', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT'] as const),
    )
    .map((kind) => ({ kind }) as FetchAttribute),
  fc.record({ kind: fc.constant('BODY[]' as const), peek: fc.boolean(), section, partial }),
  fc.record({ kind: fc.constant('BINARY[]' as const), peek: fc.boolean(), part, partial }),
  fc.record({ kind: fc.constant('BINARY.SIZE' as const), part }),
);

const statusItems = fc.uniqueArray(fc.constantFrom<StatusItem>(...STATUS_ITEMS), { minLength: 1, maxLength: 4 });

const appendMessage: fc.Arbitrary<AppendMessage> = fc
  .record({
    flags,
    internalDate: fc.option(
      fc.record({
        date: fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) / 1000 }).map((s) => new Date(s * 1000)),
        offsetMinutes: fc.integer({ min: -720, max: 840 }),
      }),
      { nil: null },
    ),
    data: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    binary: fc.boolean(),
    utf8: fc.boolean(),
  })
  .map((m) => (m.utf8 ? { ...m, binary: true } : m));

const returnOptions = fc.option(fc.uniqueArray(fc.constantFrom<SearchReturnOption>('MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'), { minLength: 1, maxLength: 5 }), {
  nil: null,
});

const selectOptions = fc
  .uniqueArray(fc.constantFrom<ListSelectOption>('SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE'), { maxLength: 4 })
  .filter((o) => !(o.length === 1 && o[0] === 'RECURSIVEMATCH'));

const base64 = fc.uint8Array({ minLength: 1, maxLength: 30 }).map((a) => Buffer.from(a).toString('base64'));

export const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    tag,
    name: fc.constantFrom(
      'CAPABILITY' as const,
      'NOOP' as const,
      'LOGOUT' as const,
      'STARTTLS' as const,
      'NAMESPACE' as const,
      'IDLE' as const,
      'CHECK' as const,
      'CLOSE' as const,
      'UNSELECT' as const,
    ),
  }),
  fc.record({
    tag,
    name: fc.constant('AUTHENTICATE' as const),
    mechanism: fc.stringMatching(/^[A-Z0-9-]{1,12}$/),
    initialResponse: fc.option(fc.oneof(fc.constant('='), base64), { nil: null }),
  }),
  fc.record({ tag, name: fc.constant('LOGIN' as const), username: text, password: text }),
  fc.record({
    tag,
    name: fc.constant('ENABLE' as const),
    capabilities: fc.array(
      atom.map((a) => a.toUpperCase()),
      { minLength: 1, maxLength: 3 },
    ),
  }),
  fc.record({
    tag,
    name: fc.constant('ID' as const),
    params: fc.option(fc.array(fc.tuple(text, fc.option(text, { nil: null })), { maxLength: 3 }), { nil: null }),
  }),
  fc.record({
    tag,
    name: fc.constantFrom('SELECT' as const, 'EXAMINE' as const),
    mailbox,
    condstore: fc.boolean(),
    qresync: fc.option(
      fc.record({
        uidValidity: nz,
        modSeq: num64,
        knownUids: fc.option(concreteSet, { nil: null }),
        seqMatch: fc.option(fc.record({ seqs: concreteSet, uids: concreteSet }), { nil: null }),
      }),
      { nil: null },
    ),
  }),
  fc.record({ tag, name: fc.constant('CREATE' as const), mailbox, specialUse: fc.array(specialUse, { maxLength: 2 }) }),
  fc.record({ tag, name: fc.constantFrom('DELETE' as const, 'SUBSCRIBE' as const, 'UNSUBSCRIBE' as const), mailbox }),
  fc.record({ tag, name: fc.constant('RENAME' as const), mailbox, newName: mailbox }),
  fc
    .record({
      tag,
      reference: text,
      patterns: fc.array(text, { minLength: 1, maxLength: 3 }),
      selectOptions,
      returnOptions: fc.record({ subscribed: fc.boolean(), children: fc.boolean(), specialUse: fc.boolean(), status: fc.option(statusItems, { nil: null }) }),
      extendedAnyway: fc.boolean(),
    })
    .map(({ extendedAnyway, ...l }) => {
      const r = l.returnOptions;
      const needs = l.selectOptions.length > 0 || l.patterns.length > 1 || r.subscribed || r.children || r.specialUse || r.status !== null;
      return { ...l, name: 'LIST' as const, extended: needs || extendedAnyway };
    }),
  fc.record({ tag, name: fc.constant('LSUB' as const), reference: text, pattern: text }),
  fc.record({ tag, name: fc.constant('STATUS' as const), mailbox, items: statusItems }),
  fc.record({ tag, name: fc.constant('APPEND' as const), mailbox, messages: fc.array(appendMessage, { minLength: 1, maxLength: 3 }) }),
  fc.record({ tag, name: fc.constant('EXPUNGE' as const), uid: fc.constant(false as const) }),
  fc.record({ tag, name: fc.constant('EXPUNGE' as const), uid: fc.constant(true as const), set: sequenceSet }),
  fc.record({
    tag,
    name: fc.constant('SEARCH' as const),
    uid: fc.boolean(),
    charset: fc.option(fc.constantFrom('UTF-8', 'US-ASCII'), { nil: null }),
    criteria: fc.array(searchKey, { minLength: 1, maxLength: 4 }).map((keys) => ({ type: 'and' as const, keys })),
    returnOptions,
  }),
  fc
    .record({
      tag,
      uid: fc.boolean(),
      set: sequenceSet,
      items: fc.oneof(
        fc.constantFrom('ALL' as const, 'FAST' as const, 'FULL' as const).map((macro) => ({ macro, attributes: FETCH_MACROS[macro] })),
        fc.array(fetchAttribute, { minLength: 1, maxLength: 5 }).map((attributes) => ({ macro: null, attributes })),
      ),
      changedSince: fc.option(num64, { nil: null }),
      vanished: fc.boolean(),
    })
    .map(({ items, ...f }) => ({
      ...f,
      ...items,
      name: 'FETCH' as const,
      vanished: f.vanished && f.uid && f.changedSince !== null,
    })),
  fc.record({
    tag,
    name: fc.constant('STORE' as const),
    uid: fc.boolean(),
    set: sequenceSet,
    action: fc.constantFrom('set' as const, 'add' as const, 'remove' as const),
    silent: fc.boolean(),
    flags,
    unchangedSince: fc.option(num64, { nil: null }),
  }),
  fc.record({ tag, name: fc.constantFrom('COPY' as const, 'MOVE' as const), uid: fc.boolean(), set: sequenceSet, mailbox }),
) as fc.Arbitrary<Command>;
