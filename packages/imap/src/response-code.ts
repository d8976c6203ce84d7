/**
 * Response codes (RFC 9051 §7.1; RFC 5530 for the error codes; RFC 4315 APPENDUID/COPYUID;
 * RFC 7162 HIGHESTMODSEQ/MODIFIED/NOMODSEQ/CLOSED; RFC 8474 MAILBOXID).
 */
import { compactSequenceSet, formatSequenceSet, type SequenceSet } from './sequence.js';

/** Codes that carry no data. */
export type SimpleResponseCode =
  | 'ALERT'
  | 'PARSE'
  | 'READ-ONLY'
  | 'READ-WRITE'
  | 'TRYCREATE'
  | 'ALREADYEXISTS'
  | 'NONEXISTENT'
  | 'OVERQUOTA'
  | 'CANNOT'
  | 'LIMIT'
  | 'TOOBIG'
  | 'CLOSED'
  | 'AUTHENTICATIONFAILED'
  | 'AUTHORIZATIONFAILED'
  | 'UNAVAILABLE'
  | 'PRIVACYREQUIRED'
  | 'CLIENTBUG'
  | 'SERVERBUG'
  | 'NOPERM'
  | 'INUSE'
  | 'EXPUNGEISSUED'
  | 'CORRUPTION'
  | 'CONTACTADMIN'
  | 'EXPIRED'
  | 'NOMODSEQ'
  | 'HASCHILDREN'
  | 'UNKNOWN-CTE'
  | 'UIDNOTSTICKY'
  | 'NOTSAVED'
  | 'USEATTR';

/** A set of UIDs as a server has it at hand: a parsed set, a list (kept in order), or one UID. */
export type UidSetLike = SequenceSet | readonly number[] | number;

export type ResponseCode =
  | { readonly code: SimpleResponseCode }
  | { readonly code: 'CAPABILITY'; readonly capabilities: readonly string[] }
  | { readonly code: 'PERMANENTFLAGS'; readonly flags: readonly string[] }
  /** RFC 9051 §7.1: the charsets the server supports, e.g. `[BADCHARSET (UTF-8 US-ASCII)]`. */
  | { readonly code: 'BADCHARSET'; readonly charsets?: readonly string[] }
  | { readonly code: 'UIDVALIDITY' | 'UIDNEXT' | 'HIGHESTMODSEQ' | 'UNSEEN'; readonly value: number }
  | { readonly code: 'APPENDUID'; readonly uidValidity: number; readonly uids: UidSetLike }
  /** RFC 4315 §3: both sets list UIDs in corresponding order. */
  | { readonly code: 'COPYUID'; readonly uidValidity: number; readonly sourceUids: UidSetLike; readonly destinationUids: UidSetLike }
  /** RFC 7162 §3.1.3: the messages that failed the UNCHANGEDSINCE test. */
  | { readonly code: 'MODIFIED'; readonly set: UidSetLike }
  | { readonly code: 'MAILBOXID'; readonly id: string };

/** Formats a UID set for a response code. */
export function formatUidSet(set: UidSetLike): string {
  if (typeof set === 'number') return String(set);
  if (Array.isArray(set)) return compactSequenceSet(set as readonly number[]);
  return formatSequenceSet(set as SequenceSet);
}

/** The bracketed code, e.g. `[COPYUID 38505 304,319:320 3956:3958]`. */
export function formatResponseCode(rc: ResponseCode): string {
  switch (rc.code) {
    case 'CAPABILITY':
      return `[CAPABILITY ${rc.capabilities.join(' ')}]`;
    case 'PERMANENTFLAGS':
      return `[PERMANENTFLAGS (${rc.flags.join(' ')})]`;
    case 'BADCHARSET':
      return rc.charsets && rc.charsets.length > 0 ? `[BADCHARSET (${rc.charsets.join(' ')})]` : '[BADCHARSET]';
    case 'UIDVALIDITY':
    case 'UIDNEXT':
    case 'HIGHESTMODSEQ':
    case 'UNSEEN':
      return `[${rc.code} ${rc.value}]`;
    case 'APPENDUID':
      return `[APPENDUID ${rc.uidValidity} ${formatUidSet(rc.uids)}]`;
    case 'COPYUID':
      return `[COPYUID ${rc.uidValidity} ${formatUidSet(rc.sourceUids)} ${formatUidSet(rc.destinationUids)}]`;
    case 'MODIFIED':
      return `[MODIFIED ${formatUidSet(rc.set)}]`;
    case 'MAILBOXID':
      return `[MAILBOXID (${rc.id})]`;
    default:
      return `[${rc.code}]`;
  }
}
