/**
 * The IMAP state machine as data (RFC 9051 §3): which commands each state admits. The
 * dispatcher checks this table once; handlers never look at the state to refuse a command.
 */
import type { CommandName } from '@postern/imap';

export type ImapState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

const ANY: readonly CommandName[] = ['CAPABILITY', 'NOOP', 'LOGOUT', 'ID'];
const NOT_AUTH: readonly CommandName[] = ['STARTTLS', 'AUTHENTICATE', 'LOGIN'];
const AUTH: readonly CommandName[] = [
  'ENABLE',
  'SELECT',
  'EXAMINE',
  'CREATE',
  'DELETE',
  'RENAME',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'LIST',
  'LSUB',
  'NAMESPACE',
  'STATUS',
  'APPEND',
  'IDLE',
];
const SELECTED: readonly CommandName[] = ['CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'SEARCH', 'FETCH', 'STORE', 'COPY', 'MOVE'];

export const ALLOWED: Readonly<Record<ImapState, ReadonlySet<CommandName>>> = {
  'not-authenticated': new Set([...ANY, ...NOT_AUTH]),
  authenticated: new Set([...ANY, ...AUTH]),
  selected: new Set([...ANY, ...AUTH, ...SELECTED]),
  logout: new Set(),
};

/**
 * RFC 9051 §7.4.1: no untagged EXPUNGE while answering FETCH, STORE or SEARCH (the client may be
 * relying on sequence numbers it just sent). We hold them back for the UID forms too.
 */
export const NO_EXPUNGE_DURING: ReadonlySet<CommandName> = new Set(['FETCH', 'STORE', 'SEARCH']);
