/**
 * mail.db: accounts, mailboxes, messages, flags and the full-text index. Numbered migrations;
 * never edit a shipped one, add the next.
 *
 * Message storage: `contents` holds each distinct message body once (keyed by SHA-256), split into
 * `content_chunks` so a FETCH of a part or a download never loads 25 MB at once, with everything
 * IMAP needs computed at delivery (ENVELOPE, BODYSTRUCTURE, part offsets). `messages` is one row
 * per message in a mailbox; its `prefix` holds the per-recipient headers we prepended
 * (Return-Path, Delivered-To), so identical content for several recipients is stored once.
 * System flags are a bitmask (see FLAG_BITS); keywords are a space-separated list.
 */
import type { Migration } from '../sqlite.js';
import { CREDENTIALS_SCHEMA } from '../credentials.js';
import { LOGIN_THROTTLE_SCHEMA } from '../throttle.js';
import { SIEVE_SCHEMA } from './sieve-schema.js';
import { IMPORT_STATE_SCHEMA } from './import-state.js';

export const MAIL_MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE domains (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,              -- lowercase ASCII (punycode)
    catch_all_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created INTEGER NOT NULL
  );
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    address TEXT NOT NULL UNIQUE,           -- lookup key: lowercase local@domain
    display_address TEXT NOT NULL,          -- as created
    password_hash TEXT NOT NULL,
    quota_bytes INTEGER NOT NULL DEFAULT 0, -- 0: the configured default
    created INTEGER NOT NULL
  );
  CREATE TABLE aliases (
    address TEXT NOT NULL,                  -- lookup key, may be a whole domain's "@domain" never
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (address, user_id)
  ) WITHOUT ROWID;
  CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,                     -- UTF-8, hierarchy separator "/"
    special_use TEXT,                       -- \\Sent, \\Drafts, ...
    subscribed INTEGER NOT NULL DEFAULT 1,
    uid_validity INTEGER NOT NULL,
    uid_next INTEGER NOT NULL DEFAULT 1,
    highest_modseq INTEGER NOT NULL DEFAULT 1,
    message_count INTEGER NOT NULL DEFAULT 0,
    unseen_count INTEGER NOT NULL DEFAULT 0,
    total_size INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, name)
  );
  CREATE TABLE contents (
    id INTEGER PRIMARY KEY,
    sha256 BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    refs INTEGER NOT NULL DEFAULT 0,
    header_end INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    body_structure TEXT NOT NULL,
    body TEXT NOT NULL,
    parts TEXT NOT NULL,                    -- JSON MimePart[] (offsets into the content)
    subject TEXT NOT NULL DEFAULT '',
    from_text TEXT NOT NULL DEFAULT '',
    to_text TEXT NOT NULL DEFAULT '',
    cc_text TEXT NOT NULL DEFAULT '',
    bcc_text TEXT NOT NULL DEFAULT '',
    from_address TEXT,
    message_id TEXT,
    in_reply_to TEXT,
    sent_date INTEGER,                      -- Date: header, ms; NULL when absent or invalid
    has_attachments INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE content_chunks (
    content_id INTEGER NOT NULL REFERENCES contents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (content_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    content_id INTEGER NOT NULL REFERENCES contents(id),
    prefix BLOB NOT NULL,                   -- headers prepended for this recipient
    size INTEGER NOT NULL,                  -- length(prefix) + contents.size = RFC822.SIZE
    internal_date INTEGER NOT NULL,         -- ms since epoch
    flags INTEGER NOT NULL DEFAULT 0,
    keywords TEXT NOT NULL DEFAULT '',
    modseq INTEGER NOT NULL,
    UNIQUE (mailbox_id, uid)
  );
  CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
  CREATE INDEX messages_unseen ON messages (mailbox_id, uid) WHERE (flags & 1) = 0;
  CREATE INDEX messages_content ON messages (content_id);
  -- Expunged UIDs with the modseq of their expunge: QRESYNC VANISHED (RFC 7162 §3.2.10).
  CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
  ) WITHOUT ROWID;
  -- Contentless full-text index keyed by contents.id (SEARCH TEXT/BODY, webmail search).
  CREATE VIRTUAL TABLE content_fts USING fts5(
    subject, addresses, body,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
  );
  `,
  // 2: deliveries already made, by the queue id the transfer app sends as ENVID and the user.
  // A transfer killed between the LMTP 250 and its own commit hands the message over again;
  // the delivery agent then answers 250 without storing it twice.
  `
  CREATE TABLE delivery_keys (
    envid TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    PRIMARY KEY (envid, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX delivery_keys_age ON delivery_keys (delivered);
  `,
  // 3: substring search. IMAP SEARCH strings match as substrings (RFC 9051 §6.4.4); content_fts
  // (unicode61) only finds words and word prefixes. A second contentless index over the same text
  // with the trigram tokenizer answers any substring of 3 characters or more, case-insensitively
  // and without diacritics. Contents stored before this migration are listed as pending, as is
  // every content delivered since (contents.ts): the delivery agent indexes them in the
  // background and before a SEARCH that needs them (./trigram.ts).
  `
  CREATE VIRTUAL TABLE content_trigram USING fts5(
    subject, addresses, body,
    content = '', contentless_delete = 1,
    tokenize = 'trigram remove_diacritics 1'
  );
  CREATE TABLE content_trigram_pending (
    content_id INTEGER PRIMARY KEY REFERENCES contents(id) ON DELETE CASCADE
  );
  INSERT INTO content_trigram_pending (content_id) SELECT id FROM contents;
  `,
  // 4: the login throttle every process shares (failures per source and per account, and the
  // sources that logged in successfully), see ../throttle.ts.
  LOGIN_THROTTLE_SCHEMA,
  // 5: Sieve scripts per user, vacation replies and duplicate ids remembered (./sieve-schema.ts).
  SIEVE_SCHEMA,
  // 6: aliases that forward to outside addresses (accounts.ts; the delivery agent forwards with SRS and ARC)
  `
  CREATE TABLE alias_forwards (
    address TEXT NOT NULL,                  -- the alias, lowercase local@domain
    target TEXT NOT NULL,                   -- an address in a domain that is not ours
    PRIMARY KEY (address, target)
  ) WITHOUT ROWID;
  `,
  // 7: where each `postern import` stopped, per source folder (./import-state.ts).
  IMPORT_STATE_SCHEMA,
  // 8: app passwords and the webmail's session credentials, the TOTP second factor and its
  // recovery codes, administrators, and the last logins per account, protocol and source
  // (../credentials.ts).
  CREDENTIALS_SCHEMA,
];

/** System flags as bits of messages.flags (RFC 9051 §2.3.2). \Recent is not stored. */
export const FLAG_BITS = {
  '\\Seen': 1,
  '\\Answered': 2,
  '\\Flagged': 4,
  '\\Deleted': 8,
  '\\Draft': 16,
} as const;

export type SystemFlag = keyof typeof FLAG_BITS;
