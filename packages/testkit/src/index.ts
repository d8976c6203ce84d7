/**
 * @postern/testkit: what every Postern test suite shares and no app ships.
 * - `Talk`: one conversation client for SMTP, LMTP, IMAP, POP3 and ManageSieve.
 * - `requirement`/`skip`: loud skips for what npm cannot provide (POSTERN_TEST_ALL=1 fails them).
 */
export { Talk, type TalkOptions } from './talk.js';
export { commandNeed, hasCommand, isExecutable, requirement, rootNeed, skip, SKIP_LOG, TEST_ALL, type Need, type SkipRecord } from './skips.js';
export { addRecords, startDnsServer, type DnsServer, type PrintedRecord, type ServeOptions, type ZoneData } from './zone.js';
export { freePort, pebbleNeed, startPebble, type Pebble, type PebbleOptions } from './pebble.js';
export { createTestCa, opensslNeed, type TestCa } from './pki.js';
