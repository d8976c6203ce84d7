/**
 * Bounces to our SRS addresses (core's srs.ts): mail to `SRS0=...@<our domain>` goes back to the
 * original sender the forward was made for (it is relayed there as any outbound mail); a forged
 * or expired SRS address is refused at RCPT, so our domain is no bounce relay for anyone.
 */
import { loadSrsSecret, Srs, SrsError } from '@postern/core';
import { SmtpReply } from '@postern/smtp';

let srs: { dataDir: string; srs: Srs } | null = null;

/** The original address for an SRS local part; null when it is not SRS. Throws a 550 when forged or expired. */
export function srsBounceTarget(local: string, dataDir: string): string | null {
  if (!Srs.isSrs(local)) return null;
  if (srs?.dataDir !== dataDir) srs = { dataDir, srs: new Srs({ secret: loadSrsSecret(dataDir) }) };
  try {
    return srs.srs.reverse(local);
  } catch (err) {
    if (err instanceof SrsError) throw new SmtpReply(550, '5.1.1', `Recipient address rejected: ${err.message}`);
    throw err;
  }
}
