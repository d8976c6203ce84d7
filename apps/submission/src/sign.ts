/**
 * The seam for DKIM signing (RFC 6376) of submitted mail: called on the final message (our
 * Received:, the added Message-ID:/Date:, the user's bytes) right before it is queued.
 *
 * Today it signs nothing and returns the message unchanged. The helper who adds DKIM replaces
 * the body of `signMessage` (mailauth's dkimSign with the domain's key, prepending the
 * DKIM-Signature: field).
 */
export interface SignContext {
  /** The domain of the authenticated sender (whose key signs). */
  domain: string;
  /** `dkim.selector` from the config. */
  selector: string;
}

export async function signMessage(message: Buffer, _ctx: SignContext): Promise<Buffer> {
  return message;
}
