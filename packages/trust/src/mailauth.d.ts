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

declare module 'mailauth/lib/tools.js' {
  export interface ParsedHeader {
    /** Lower-case field name. */
    key: string | null;
    /** Field name as written. */
    casedKey: string | undefined;
    /** The whole field, folded lines included, without the final CRLF. */
    line: Buffer;
  }
  export interface SigningHeaderLines {
    /** The h= value: field names joined by ": ". */
    keys: string;
    headers: ParsedHeader[];
  }
  export function parseHeaders(header: Buffer): { parsed: ParsedHeader[]; original: Buffer };
  /** Signing (verify false): every present instance of the listed fields, bottom-up. */
  export function getSigningHeaderLines(parsed: ParsedHeader[], fieldNames: string, verify?: boolean): SigningHeaderLines;
  export function formatSignatureHeaderLine(type: 'DKIM', values: Record<string, string | number | boolean>, folded: boolean): string;
}

declare module 'mailauth/lib/dkim/body/index.js' {
  export interface BodyHasher {
    update(chunk: Buffer | null, final?: boolean): void;
    digest(encoding: 'base64'): string;
  }
  export function dkimBody(canonicalization: 'relaxed' | 'simple', algorithm: string, maxBodyLength: number | false): BodyHasher;
}

declare module 'mailauth/lib/dkim/header/index.js' {
  import type { SigningHeaderLines } from 'mailauth/lib/tools.js';
  export function generateCanonicalizedHeader(
    type: 'DKIM',
    signingHeaderLines: SigningHeaderLines,
    options: { signingDomain: string; selector: string; algorithm: string; canonicalization: string; bodyHash: string; signTime?: Date },
  ): { canonicalizedHeader: Buffer; signatureHeaderLine: string; dkimHeaderOpts: Record<string, string | number | boolean> };
}
