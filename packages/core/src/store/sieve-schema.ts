/** The Sieve tables of mail.db (./sieve-scripts.ts uses them); its own file so schema.ts imports no store code. */
/** mail.db migration 5. */
export const SIEVE_SCHEMA = `
  CREATE TABLE sieve_scripts (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL,
    last_error TEXT,                       -- the active script's last run-time error, if any
    last_error_at INTEGER,
    PRIMARY KEY (user_id, name)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX sieve_scripts_active ON sieve_scripts (user_id) WHERE active = 1;
  CREATE TABLE sieve_vacation (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key TEXT NOT NULL,                     -- sha256(handle, sender)
    expires INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
  ) WITHOUT ROWID;
  CREATE INDEX sieve_vacation_expires ON sieve_vacation (expires);
  CREATE TABLE sieve_duplicates (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
  ) WITHOUT ROWID;
  CREATE INDEX sieve_duplicates_expires ON sieve_duplicates (expires);
`;
