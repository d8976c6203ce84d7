export * from './store.js';
export * from './contents.js';
export * from './mailboxes.js';
export { FLAG_BITS, MAIL_MIGRATIONS, type SystemFlag } from './schema.js';
export { messageChunks, ContentGoneError, type StreamedMessage } from './stream.js';
export { trigramPending, trigramPendingIn, completeTrigram, type TrigramText } from './trigram.js';
export { IMPORT_STATE_SCHEMA, ImportState, type ImportMarker } from './import-state.js';
