/**
 * DKIM signing (RFC 6376, RFC 8463) of submitted mail: called on the final message (our
 * Received:, the added Message-ID:/Date:, the user's bytes) right before it is queued. Signs with
 * the sender domain's RSA and Ed25519 keys (@postern/trust), making them if the domain has none
 * yet (a domain added before keys existed); `postern dns` prints the records to publish.
 */
import { signMessage as dkimSign } from '@postern/trust';

export interface SignContext {
  /** The domain of the authenticated sender (whose key signs). */
  domain: string;
  /** `dkim.selector` from the config. */
  selector: string;
  /** The data directory: keys are in `<dataDir>/dkim/<domain>/`. */
  dataDir: string;
}

/** The message with its DKIM-Signature fields prepended. Throws when it cannot sign (the client gets a 4xx). */
export async function signMessage(message: Buffer, ctx: SignContext): Promise<Buffer> {
  return dkimSign(message, { config: { dataDir: ctx.dataDir, dkim: { selector: ctx.selector } }, domain: ctx.domain });
}
