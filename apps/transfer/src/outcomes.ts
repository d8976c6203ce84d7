/**
 * Turning what nodemailer's SMTP/LMTP client reports into one outcome per recipient: 2xx
 * delivered, 4xx deferred, 5xx failed (RFC 5321 §4.2.1), each with the reply that decided it.
 */
import type { SMTPConnectionSendInfo } from 'nodemailer/lib/smtp-connection';
import type { QueueRecipient, RecipientOutcome } from '@postern/core';

export interface ClientError extends Error {
  code?: string | undefined;
  response?: string | undefined;
  responseCode?: number | undefined;
  recipient?: string | undefined;
  rejectedErrors?: ClientError[] | undefined;
}

/** The part of a queue recipient an attempt needs: who, and the id its outcome is filed under. */
export type Addressee = Pick<QueueRecipient, 'id' | 'address'>;

const oneLine = (s: string): string => s.replace(/\s*[\r\n]+\s*/g, ' ').trim();

function byCode(recipientId: number, code: number | undefined, reply: string, remoteMta: string): RecipientOutcome {
  if (code !== undefined && code >= 500) return { recipientId, kind: 'failed', reply, remoteMta };
  return { recipientId, kind: 'deferred', reply, remoteMta };
}

/** Outcomes after a completed transaction (`info`), where some recipients may be refused. */
export function outcomesOfInfo(recipients: readonly Addressee[], info: SMTPConnectionSendInfo, remoteMta: string): RecipientOutcome[] {
  const refused = new Map<string, ClientError>();
  for (const e of (info.rejectedErrors ?? []) as ClientError[]) if (e.recipient) refused.set(e.recipient, e);
  const accepted = new Set(info.accepted);
  return recipients.map((r) => {
    const e = refused.get(r.address);
    if (e) return byCode(r.id, e.responseCode, oneLine(e.response ?? e.message), remoteMta);
    if (accepted.has(r.address)) return { recipientId: r.id, kind: 'delivered', reply: oneLine(info.response), remoteMta };
    return { recipientId: r.id, kind: 'deferred', reply: '4.4.0 recipient missing from the reply', remoteMta };
  });
}

/** Outcomes when the transaction ended in an error after the connection was established. */
export function outcomesOfError(recipients: readonly Addressee[], err: ClientError, remoteMta: string): RecipientOutcome[] {
  if (err.rejectedErrors && err.rejectedErrors.length > 0) {
    // every recipient refused at RCPT: each has its own reply
    const refused = new Map<string, ClientError>();
    for (const e of err.rejectedErrors) if (e.recipient) refused.set(e.recipient, e);
    return recipients.map((r) => {
      const e = refused.get(r.address) ?? err;
      return byCode(r.id, e.responseCode, oneLine(e.response ?? e.message), remoteMta);
    });
  }
  const reply = err.response ? oneLine(err.response) : `4.4.2 ${oneLine(err.message)}`;
  return recipients.map((r) => byCode(r.id, err.responseCode, reply, remoteMta));
}

/** Every recipient deferred with our own explanation (no remote reply). */
export function allDeferred(recipients: readonly Addressee[], reply: string, remoteMta?: string): RecipientOutcome[] {
  return recipients.map((r) => ({ recipientId: r.id, kind: 'deferred', reply, ...(remoteMta ? { remoteMta } : {}) }));
}

/** Every recipient deferred because our own delivery agent could not take the message (not
 * listening, restarting, shutting down, busy): retried on the short schedule, and at once when
 * the agent is ready again (RecipientOutcome's agentUnavailable). */
export function agentUnavailable(recipients: readonly Addressee[], reply: string, remoteMta: string): RecipientOutcome[] {
  return recipients.map((r) => ({ recipientId: r.id, kind: 'deferred', reply, remoteMta, agentUnavailable: true }));
}

export function allFailed(recipients: readonly Addressee[], reply: string): RecipientOutcome[] {
  return recipients.map((r) => ({ recipientId: r.id, kind: 'failed', reply }));
}
