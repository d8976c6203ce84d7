/**
 * The message store: the only owner of mail.db's mailboxes, messages, contents and their
 * indexes. Callers see MessageStore (./interface.ts) and its records; the SQL stays inside.
 */
export type * from './interface.js';
export { MailStore, StoreError, flagsFromBits, bitsFromFlags, type MailStoreOptions } from './store.js';
export { CHUNK_SIZE, type MessageIndex } from './contents.js';
export * from './mailboxes.js';
export { FLAG_BITS, MAIL_MIGRATIONS, type SystemFlag } from './schema.js';
export { ContentGoneError } from './stream.js';
export { inlineTextIndexer, type TextIndexer, type TrigramText } from './trigram.js';
export { SieveScripts, type SieveQuota, type SieveScript, type SieveScriptInfo } from './sieve-scripts.js';
export { IMPORT_STATE_SCHEMA, ImportState, type ImportMarker } from './import-state.js';
