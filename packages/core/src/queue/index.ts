/**
 * The mail queue (queue.db): messages in transit between acceptance ("250") and the next hop.
 * Submission, the MX server and `postern sendmail` write it; the transfer app's runner reads it.
 */
export * from './schema.js';
export * from './store.js';
export * from './group-commit.js';
export * from './headers.js';
