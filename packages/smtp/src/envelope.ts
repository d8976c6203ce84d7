/**
 * The envelope smtp-server collected, as the queue and the delivery agent take it: recipients
 * with normalised addresses, each once (a recipient given twice is one recipient, as Postfix's
 * cleanup does; its first RCPT's DSN parameters count, as the queue keeps them), the RFC 3461
 * ENVID and RET, and whether SMTPUTF8 is needed for the session or a recipient.
 */
import type { SMTPServerSession } from 'smtp-server';
import { formatAddress, needsSmtpUtf8, parseAddress, type NewMessage, type NewRecipient } from '@postern/core';

export interface QueuedEnvelope {
  recipients: NewRecipient[];
  envid: string | null;
  ret: NewMessage['ret'];
  smtputf8: boolean;
}

export function queuedEnvelope(session: SMTPServerSession): QueuedEnvelope {
  const byAddress = new Map<string, NewRecipient>();
  let smtputf8 = session.envelope.smtpUtf8 === true;
  for (const r of session.envelope.rcptTo) {
    const parsed = parseAddress(r.address);
    smtputf8 ||= needsSmtpUtf8(parsed);
    const address = formatAddress(parsed);
    if (!byAddress.has(address)) byAddress.set(address, { address, orcpt: r.dsn?.orcpt ?? null, notify: r.dsn?.notify ?? null });
  }
  const dsn = session.envelope.dsn;
  return {
    recipients: [...byAddress.values()],
    envid: dsn?.envid ?? null,
    ret: dsn?.ret === 'FULL' || dsn?.ret === 'HDRS' ? dsn.ret : null,
    smtputf8,
  };
}
