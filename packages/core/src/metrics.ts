/**
 * Metrics in the Prometheus format (prom-client). Every Postern process has this one registry,
 * labelled with its app (`app="transfer"`); the counters below are bumped where the event
 * happens, in the one place each kind of event passes (the connection counter, the TLS upgrade,
 * the login throttle, the mail-event log lines). @postern/metrics serves each process's registry
 * on a loopback port of its own and adds them up behind the one scrape endpoint,
 * `listen.metrics` (see that package for why).
 *
 * Names follow Prometheus's conventions: `postern_` prefix, `_total` for counters, base units
 * (seconds, bytes). Labels take a few fixed values only (never an address or a queue id).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();
let defaultsCollected = false;

/** Names the process in every series, and adds Node's own (CPU, memory, event-loop lag). */
export function initMetrics(app: string): void {
  metricsRegistry.setDefaultLabels({ app });
  if (!defaultsCollected) {
    collectDefaultMetrics({ register: metricsRegistry, prefix: 'postern_' });
    defaultsCollected = true;
  }
}

const registers = [metricsRegistry];

export const metrics = {
  /** A message taken in: `via` mx (port 25), submission, sendmail (the maildrop). */
  received: new Counter({ name: 'postern_messages_received_total', help: 'Messages accepted, by where they came in', labelNames: ['via'], registers }),
  /**
   * The mail events of the log (log.ts: queued, delivered, deferred, bounced, refused), one
   * count per recipient line. app="delivery" delivered: stored in a mailbox; app="transfer": the
   * next hop (remote MX, smarthost or our LMTP) said 250.
   */
  mailEvents: new Counter({ name: 'postern_mail_events_total', help: 'Mail events of the log, by event', labelNames: ['event'], registers }),
  /** Inbound mail filed as junk, by the check that failed (dmarc, spf, timeout, other). */
  junked: new Counter({ name: 'postern_messages_junked_total', help: 'Inbound messages delivered to Junk, by cause', labelNames: ['cause'], registers }),
  /** From arrival to the 250 of the hop: path mx_to_mailbox (local) or to_remote (a remote MX or smarthost). */
  deliveryLatency: new Histogram({
    name: 'postern_delivery_latency_seconds',
    help: 'From arrival to the accepting 250, by path',
    labelNames: ['path'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
    registers,
  }),
  /** Connections per listener protocol (smtp, submission, imap, pop3, managesieve), admitted or refused by the limits. */
  connections: new Counter({ name: 'postern_connections_total', help: 'Connections, by protocol and result', labelNames: ['protocol', 'result'], registers }),
  connectionsOpen: new Gauge({ name: 'postern_connections_open', help: 'Connections open now, by protocol', labelNames: ['protocol'], registers }),
  /** Logins by protocol (imap, pop3, smtp, managesieve, webmail) and result: ok, failed, refused (throttled). */
  logins: new Counter({ name: 'postern_logins_total', help: 'Logins, by protocol and result', labelNames: ['protocol', 'result'], registers }),
  /** Finished server-side TLS handshakes by protocol and version (TLSv1.2, TLSv1.3). */
  tls: new Counter({
    name: 'postern_tls_handshakes_total',
    help: 'TLS handshakes, by protocol and TLS version',
    labelNames: ['protocol', 'version'],
    registers,
  }),
};

/** The `event` of a mail log line (log.ts), counted; other values are counted as "other". */
const MAIL_EVENTS = new Set(['queued', 'delivered', 'deferred', 'bounced', 'refused', 'duplicate']);
export function countMailEvent(event: unknown, recipients = 1): void {
  metrics.mailEvents.inc({ event: typeof event === 'string' && MAIL_EVENTS.has(event) ? event : 'other' }, recipients);
}
