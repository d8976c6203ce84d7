/**
 * The part of mailauth 4.9.5 (plain JavaScript, no bundled types) that @postern/trust uses.
 * Kept internal: no exported type of this package mentions these declarations.
 */
declare module 'mailauth' {
  /** node:dns `resolve(name, rrtype)` semantics: TXT gives string[][], MX {exchange, priority}[]. */
  export type MailauthResolver = (name: string, rrtype: string) => Promise<unknown>;

  export interface AuthStatus {
    result: string;
    comment?: string | boolean;
    header?: Record<string, string>;
    smtp?: Record<string, string>;
    aligned?: string | false;
  }

  export interface DkimRow {
    signingDomain?: string;
    selector?: string;
    algo?: string;
    status: AuthStatus;
    info: string;
  }

  export interface AuthenticateResult {
    dkim: { results?: DkimRow[]; headerFrom?: string[] | string };
    spf: false | { domain: string; status: AuthStatus; info: string; rr?: string; header: string };
    dmarc:
      | false
      | {
          status: AuthStatus;
          domain: string;
          policy?: string;
          p?: string;
          sp?: string;
          pct?: number;
          info: string;
          alignment?: { spf?: { result?: string | false }; dkim?: { result?: string | false } };
        };
    arc: false | { status: AuthStatus; i?: number; info?: string };
    headers: string;
  }

  /** ARC-seals a message (RFC 8617 §5.1): the three ARC fields to prepend. Used by tests as a forwarder. */
  export function sealMessage(
    input: Buffer,
    seal: { signingDomain: string; selector: string; privateKey: string | Buffer; authResults: string; cv: 'none' | 'pass' | 'fail' },
  ): Promise<Buffer>;

  export function authenticate(
    input: Buffer | string,
    opts: {
      ip: string;
      helo?: string;
      sender?: string;
      mta?: string;
      resolver?: MailauthResolver;
      disableBimi?: boolean;
      disableArc?: boolean;
      disableDmarc?: boolean;
      minBitLength?: number;
    },
  ): Promise<AuthenticateResult>;
}

declare module 'mailauth/lib/dkim/dkim-signer.js' {
  import { Writable } from 'node:stream';

  export interface ParsedHeader {
    /** Lower-case field name. */
    key: string | null;
    /** Field name as written; the signer joins these into the h= tag. */
    casedKey: string | undefined;
    line: Buffer;
  }

  export interface DkimSignatureData {
    signingDomain: string;
    selector: string;
    privateKey: string | Buffer;
    algorithm?: string;
    canonicalization?: string;
  }

  export class DkimSigner extends Writable {
    constructor(options: {
      canonicalization?: string;
      signTime?: Date;
      headerList?: string;
      signatureData: DkimSignatureData[];
    });
    signatureHeaders: string[];
    errors: Array<{ selector?: string; signingDomain?: string; err: Error }>;
    messageHeaders(headers: { parsed: ParsedHeader[]; original: Buffer }): Promise<void>;
  }
}
