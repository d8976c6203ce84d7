/**
 * Checks on mail arriving from the internet: SPF (RFC 7208) for the envelope sender, DKIM
 * (RFC 6376, RFC 8463) for every signature, ARC (RFC 8617) for the chain of forwarders, and DMARC
 * (RFC 7489) for the From: domain; then one `Authentication-Results:` field (RFC 8601) with our
 * host name and a verdict from the policy below.
 *
 * Policy (each part configurable through `InboundPolicy`):
 * - DMARC fails and the From: domain says p=reject: refused with 550 5.7.1.
 * - DMARC fails under p=quarantine: delivered to Junk.
 * - SPF says fail (the domain's "-all") and no DKIM signature aligned with From: passes: Junk.
 * - Mail that went through a mailing list or a forwarder often fails DMARC honestly (the list
 *   rewrote the subject, or the forwarder's IP is not in the SPF record). When such a message
 *   carries a valid ARC chain or list headers (List-Id, RFC 2919; List-Post, RFC 2369), a DMARC
 *   failure never gets it refused: it goes to Junk. A forger can add those headers too; the
 *   price is landing in Junk instead of being refused, which is the trade the issue asks for
 *   ("the default must not lose legitimate mail").
 * - DMARC pct below 100 (RFC 7489 §6.6.4): messages outside the sample get the next milder policy.
 * - A DNS failure (temperror) is recorded in the header and decides nothing: the mail is accepted.
 *   So does a check that takes longer than `timeoutMs`.
 */
import { authenticate, type AuthenticateResult } from 'mailauth';
import { hasField, headerEnd, headerSection, unfoldedValue } from '@postern/header';
import type { Config } from '@postern/core';
import type { DnsLookup } from './resolver.js';

export type Verdict = 'accept' | 'junk' | 'reject';

export interface InboundPolicy {
  /** DMARC failure under p=reject. */
  dmarcReject: 'reject' | 'junk' | 'accept';
  /** DMARC failure under p=quarantine. */
  dmarcQuarantine: 'junk' | 'accept';
  /** SPF fail without a passing DKIM signature aligned with From:. */
  spfFail: 'junk' | 'accept';
  /** The most a DMARC failure can do to mail with a valid ARC chain or list headers. */
  forwarded: 'junk' | 'accept';
}

export const DEFAULT_INBOUND_POLICY: Readonly<InboundPolicy> = {
  dmarcReject: 'reject',
  dmarcQuarantine: 'junk',
  spfFail: 'junk',
  forwarded: 'junk',
};

/** The policy from the `[inbound]` section of postern.toml. */
export function inboundPolicyOf(config: Pick<Config, 'inbound'>): InboundPolicy {
  return {
    dmarcReject: config.inbound.dmarc_reject,
    dmarcQuarantine: config.inbound.dmarc_quarantine,
    spfFail: config.inbound.spf_fail,
    forwarded: config.inbound.forwarded,
  };
}

/** The header the delivery agent reads to file a message in Junk (we prepend it, above ours). */
export const JUNK_HEADER = 'X-Postern-Junk';

export interface InboundInput {
  /** The message as received (before our Received: header). */
  raw: Buffer;
  /** The client's IP address. */
  ip: string;
  /** What the client said in EHLO/HELO. */
  helo: string;
  /** The envelope sender, '' for the null reverse-path (SPF then checks the HELO name). */
  mailFrom: string;
  /** Our host name: the authserv-id of the Authentication-Results field. */
  hostname: string;
  resolver: DnsLookup;
  policy?: Partial<InboundPolicy>;
  /** For DMARC pct sampling; default Math.random. */
  random?: () => number;
  /**
   * The most the whole check may take (a client waits for our reply to DATA meanwhile); past
   * it every method counts as temperror and the mail is accepted. Default: no limit.
   */
  timeoutMs?: number;
}

export interface InboundResult {
  /** The whole `Authentication-Results:` field, folded, without the final CRLF. */
  header: string;
  verdict: Verdict;
  /** Why, in a few words: for the log, the SMTP reply and the Junk header. */
  reason: string;
  /** The SMTP reply when the verdict is reject. */
  reply?: { code: 550; enhanced: '5.7.1'; text: string };
  spf: string;
  /** One result per DKIM signature ('none' when unsigned). */
  dkim: string[];
  dmarc: string;
  arc: string;
}

function aRows(result: AuthenticateResult): { rows: string[]; spf: string; dkim: string[]; dmarc: string; arc: string } {
  const rows: string[] = [];
  const dkimRows = result.dkim.results ?? [];
  // mailauth says "neutral" when the body hash does not match; RFC 6376 §6.1.3 makes that a
  // PERMFAIL, which RFC 8601 §2.7.1 reports as "fail".
  const bodyHashFailed = (r: (typeof dkimRows)[number]): boolean =>
    r.status.result === 'neutral' && /body hash did not verify/i.test(`${String(r.status.comment ?? '')} ${r.info}`);
  const dkim = dkimRows.map((r) => (bodyHashFailed(r) ? 'fail' : r.status.result));
  rows.push(...(dkimRows.length > 0 ? dkimRows.map((r) => (bodyHashFailed(r) ? r.info.replace(/^dkim=neutral/, 'dkim=fail') : r.info)) : ['dkim=none']));
  const spf = result.spf ? result.spf.status.result : 'none';
  rows.push(result.spf ? result.spf.info : 'spf=none');
  const dmarc = result.dmarc ? result.dmarc.status.result : 'none';
  // mailauth gives no DMARC result when From: is missing or names several addresses
  rows.push(result.dmarc ? result.dmarc.info : 'dmarc=none (no single From: address)');
  const arc = result.arc ? result.arc.status.result : 'none';
  rows.push(result.arc && result.arc.info ? result.arc.info : `arc=${arc}`);
  return { rows, spf, dkim, dmarc, arc };
}

/** RFC 8601 §2.2: "authserv-id; method=result ...; ...", one method per folded line. */
function formatHeader(hostname: string, rows: string[]): string {
  const clean = rows.map((r) => r.replace(/\r?\n[ \t]*/g, ' ').replace(/;\s*$/, ''));
  return `Authentication-Results: ${hostname};\r\n ${clean.join(';\r\n ')}`;
}

const MILDER: Record<string, string> = { reject: 'quarantine', quarantine: 'none', none: 'none' };

/** What a check that ran out of time reports: nothing decided, nothing lost. */
function timedOut(input: InboundInput): InboundResult {
  const rows = ['dkim=temperror (checks timed out)', 'spf=temperror', 'dmarc=temperror', 'arc=temperror'];
  return {
    header: formatHeader(input.hostname, rows),
    verdict: 'accept',
    reason: 'checks timed out',
    spf: 'temperror',
    dkim: ['temperror'],
    dmarc: 'temperror',
    arc: 'temperror',
  };
}

/** Runs every check and applies the policy. Never throws for a DNS failure (temperror). */
export async function checkInbound(input: InboundInput): Promise<InboundResult> {
  if (input.timeoutMs === undefined) return runChecks(input);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<InboundResult>((resolve) => {
    timer = setTimeout(() => resolve(timedOut(input)), input.timeoutMs);
  });
  try {
    return await Promise.race([runChecks(input), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How much of the header the checks read. mailauth spends about 1.4 µs of the MX's thread on
 * every header line, so a header of millions of short lines (anyone can send one) would hold
 * every other SMTP session for seconds. No real header comes near these bounds; past them the
 * checks see the first lines only (a signature's fields are near the top) and the whole body,
 * as Postfix bounds what it reads of a header (header_size_limit). The stored message is not cut.
 */
export const CHECKED_HEADER_LINES = 10_000;
export const CHECKED_HEADER_BYTES = 512 * 1024;

/** `raw` with its header cut to the bounds above at a line end, and its body as it is. */
export function checkedPart(raw: Buffer): Buffer {
  const end = headerEnd(raw);
  let cut = 0;
  for (let lines = 0; ; lines++) {
    const nl = raw.indexOf(0x0a, cut);
    if (nl < 0 || nl >= end) return raw; // the whole header is within the bounds
    if (lines === CHECKED_HEADER_LINES || nl + 1 > CHECKED_HEADER_BYTES) break;
    cut = nl + 1;
  }
  const rest = end < raw.length ? raw.subarray(end) : Buffer.from('\r\n');
  return Buffer.concat([raw.subarray(0, cut), rest]);
}

async function runChecks(input: InboundInput): Promise<InboundResult> {
  const policy: InboundPolicy = { ...DEFAULT_INBOUND_POLICY, ...input.policy };
  const checked = checkedPart(input.raw);
  const result = await authenticate(checked, {
    ip: input.ip,
    helo: input.helo,
    // mailauth checks postmaster@<helo> when there is no sender (RFC 7208 §2.4)
    ...(input.mailFrom ? { sender: input.mailFrom } : {}),
    mta: input.hostname,
    resolver: input.resolver,
    // BIMI would fetch logos over HTTPS; it decides nothing here
    disableBimi: true,
  });
  const { rows, spf, dkim, dmarc, arc } = aRows(result);
  const header = formatHeader(input.hostname, rows);
  const base = { header, spf, dkim, dmarc, arc };

  if (result.dmarc && dmarc === 'fail') {
    let p = (result.dmarc.policy ?? 'none').toLowerCase();
    const pct = typeof result.dmarc.pct === 'number' ? result.dmarc.pct : 100;
    if (pct < 100 && (input.random ?? Math.random)() * 100 >= pct) p = MILDER[p] ?? 'none';
    const section = headerSection(checked);
    const forwarded = arc === 'pass' || hasField(section, 'List-Id') || hasField(section, 'List-Post');
    let action: Verdict = 'accept';
    if (p === 'reject') action = policy.dmarcReject;
    else if (p === 'quarantine') action = policy.dmarcQuarantine;
    if (forwarded && action === 'reject') action = policy.forwarded;
    const why = `DMARC policy of ${result.dmarc.domain} (p=${p}) failed: no aligned SPF or DKIM pass`;
    if (action === 'reject') {
      return { ...base, verdict: 'reject', reason: why, reply: { code: 550, enhanced: '5.7.1', text: `Rejected by ${why}` } };
    }
    if (action === 'junk') return { ...base, verdict: 'junk', reason: forwarded ? `${why} (forwarded or list mail)` : why };
  }

  if (spf === 'fail') {
    const aligned = (result.dkim.results ?? []).some((r) => r.status.result === 'pass' && !!r.status.aligned);
    if (!aligned && policy.spfFail === 'junk') {
      const domain = result.spf ? result.spf.domain : '?';
      return { ...base, verdict: 'junk', reason: `SPF of ${domain} fails for ${input.ip} and no aligned DKIM signature passes` };
    }
  }
  return { ...base, verdict: 'accept', reason: 'ok' };
}

/**
 * RFC 8601 §5: an MTA removes Authentication-Results fields that claim its own authserv-id,
 * since only it may have written them and it has not yet. Our Junk marker goes the same way, so
 * the delivery agent can trust any it sees. Everything else stays byte for byte.
 */
export function stripForgedAuthResults(raw: Buffer, hostname: string): Buffer {
  const ours = hostname.toLowerCase().replace(/\.$/, '');
  const junk = JUNK_HEADER.toLowerCase();
  // latin1: one code unit per octet, so positions in the text are positions in `raw`
  const header = raw.toString('latin1', 0, headerEnd(raw));
  // Linear in the header, with native searches only: a header of millions of short lines (anyone
  // may send one) must not hold the MX's thread; the fields are those headerSection() finds.
  const field = /^(authentication-results|x-postern-junk)[ \t]*:/gim;
  const cuts: Array<[number, number]> = [];
  for (let m = field.exec(header); m; m = field.exec(header)) {
    let stop = lineEnd(header, m.index);
    while (stop < header.length && (header[stop] === ' ' || header[stop] === '\t')) stop = lineEnd(header, stop);
    const name = m[1]!.toLowerCase();
    if (name === junk || authservId(unfoldedValue({ name, raw: raw.subarray(m.index, stop) })) === ours) cuts.push([m.index, stop]);
    field.lastIndex = stop;
  }
  if (cuts.length === 0) return raw;
  const kept: Buffer[] = [];
  let at = 0;
  for (const [from, to] of cuts) {
    kept.push(raw.subarray(at, from));
    at = to;
  }
  kept.push(raw.subarray(at));
  return Buffer.concat(kept);
}

/** The position after the line that `from` is in. */
function lineEnd(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl < 0 ? text.length : nl + 1;
}

/** The authserv-id of an Authentication-Results value (RFC 8601 §2.2), lower case. */
export function authservId(value: string): string {
  // comments (CFWS) may surround it; nested comments are rare enough to handle one level
  const noComments = value.replace(/\([^()]*\)/g, ' ').trim();
  const id = /^([^\s;]+)/.exec(noComments)?.[1] ?? '';
  return id.toLowerCase().replace(/\.$/, '');
}
