/**
 * queue.db schema: messages in transit and one row per (message, recipient).
 *
 * A recipient is `queued` until it is `delivered` (the next hop said 250) or `failed` (a 5xx, an
 * expired lifetime or a permanent DNS answer). A message whose recipients are all done is
 * deleted. `notified` records that a failure DSN or a delay notice was queued for the recipient,
 * in the same transaction as the state change, so a crash never loses or repeats a notice.
 */
import type { Migration } from '../sqlite.js';

export const QUEUE_MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,              -- '' is the null reverse-path (a bounce)
    arrival INTEGER NOT NULL,          -- ms since the epoch
    size INTEGER NOT NULL,
    smtputf8 INTEGER NOT NULL DEFAULT 0,
    body8bit INTEGER NOT NULL DEFAULT 0,
    envid TEXT,                        -- RFC 3461 ENVID
    ret TEXT,                          -- RFC 3461 RET: FULL or HDRS
    origin TEXT NOT NULL,              -- submission, mx, sendmail, dsn
    client TEXT NOT NULL DEFAULT '',   -- who handed it to us, for people reading the queue
    data BLOB NOT NULL
  ) STRICT;
  CREATE TABLE recipients (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    orcpt TEXT,                        -- RFC 3461 ORCPT, as given
    notify TEXT,                       -- RFC 3461 NOTIFY, comma separated; NULL = default
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error TEXT,
    last_attempt INTEGER,
    delay_notified INTEGER NOT NULL DEFAULT 0,
    UNIQUE (message_id, address)
  ) STRICT;
  CREATE INDEX recipients_due ON recipients (next_attempt) WHERE state = 'queued';
  CREATE INDEX recipients_message ON recipients (message_id);
  `,
  // How many deferrals in a row came from our own delivery agent not taking the message (not
  // listening, restarting, busy): those retry on a short schedule of their own and all at once
  // when the agent is ready again (issue 26). 0 after any other outcome.
  `ALTER TABLE recipients ADD COLUMN agent_waits INTEGER NOT NULL DEFAULT 0;`,
];
