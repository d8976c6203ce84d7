/**
 * The DSNs the queue sends (RFC 3464, built by @postern/core's dsn module): one failure report per
 * attempt that failed recipients, one delay notice per recipient once it is undelivered past
 * `transfer.delay_warning`, and one success report per attempt that stored recipients who asked
 * for it (NOTIFY=SUCCESS). All go to the original envelope sender from MAILER-DAEMON with the
 * null reverse-path, queued like any message.
 */
import { buildDsn, has8bit, newId, tryParseAddress, needsSmtpUtf8, type Config, type NoticeBuilder } from '@postern/core';
import { hostSigningDomain, signMessageSync } from '@postern/trust';

/**
 * DKIM-signs a notice from MAILER-DAEMON@<hostname> with the keys of the host name's local parent
 * domain (DMARC relaxed alignment). Without such keys, or if signing fails, the notice goes
 * unsigned: it still passes SPF through our HELO name (`postern dns` publishes it), and losing a
 * bounce is worse than an unsigned one.
 */
function signNotice(config: Config, data: Buffer): Buffer {
  try {
    const domain = hostSigningDomain(config, config.hostname);
    return domain ? signMessageSync(data, { config, domain }) : data;
  } catch {
    return data;
  }
}

export function noticeBuilder(config: Config): NoticeBuilder {
  return (kind, entry, list) => {
    if (entry.sender === '') return null; // never a DSN for a DSN (RFC 3461 §6.2)
    const now = new Date();
    const dsn = buildDsn({
      reportingMta: config.hostname,
      to: entry.sender,
      queueId: entry.id,
      envid: entry.envid,
      arrival: new Date(entry.arrival),
      original: entry.data,
      returnFull: entry.ret === 'FULL',
      now,
      recipients: list.map((n) => ({
        address: n.recipient.address,
        orcpt: n.recipient.orcpt,
        action: kind === 'failure' ? 'failed' : kind === 'delay' ? 'delayed' : 'delivered',
        reply: n.expired ? `delivery time expired; last error: ${n.reply}` : n.reply,
        ...(n.expired ? { status: '4.4.7' } : {}),
        ...(n.remoteMta ? { remoteMta: n.remoteMta } : {}),
        lastAttempt: now,
        ...(kind === 'delay' ? { willRetryUntil: new Date(entry.arrival + config.transfer.queue_lifetime) } : {}),
      })),
    });
    const to = tryParseAddress(entry.sender);
    const data = signNotice(config, dsn.data);
    return {
      id: newId(),
      sender: '',
      recipients: [{ address: entry.sender }],
      data,
      origin: 'dsn',
      client: `dsn for ${entry.id}`,
      body8bit: has8bit(data),
      smtputf8: to ? needsSmtpUtf8(to) : false,
    };
  };
}
