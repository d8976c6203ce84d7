/**
 * The seam for inbound message authentication (SPF, DKIM, DMARC, ARC with mailauth), called by
 * the MX server after DATA and before the message is queued.
 *
 * Today it checks nothing: every message is accepted unchanged with no header added. The helper
 * who adds SPF/DKIM/DMARC replaces the body of `checkInbound` (an `Authentication-Results:` header
 * in `prepend`, `reject` for a DMARC p=reject failure, `junk` for a quarantine).
 */
export interface InboundContext {
  /** The client's IP address. */
  ip: string;
  /** What the client said in EHLO/HELO. */
  helo: string;
  /** Envelope sender, '' for the null reverse-path. */
  sender: string;
  /** Our host name (the authserv-id of Authentication-Results). */
  hostname: string;
  /** The message as received, before our Received: header. */
  message: Buffer;
}

export type InboundVerdict =
  | { action: 'accept'; prepend: string }
  /** Deliver, but to the recipient's Junk folder (the header tells the delivery agent). */
  | { action: 'junk'; prepend: string }
  | { action: 'reject'; code: number; enhanced: string; text: string };

export async function checkInbound(_ctx: InboundContext): Promise<InboundVerdict> {
  return { action: 'accept', prepend: '' };
}
