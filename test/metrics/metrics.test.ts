/**
 * The metrics endpoint (issue 23) under a small load: a complete instance (delivery, transfer,
 * submission, IMAP, POP3) with `listen.metrics`, the endpoint served by `postern metrics` as it
 * would be beside apps run as separate units; mail sent through submission (nodemailer) and the
 * MX, logins right and wrong over IMAP (imapflow) and POP3; each scrape is parsed as the
 * Prometheus text format and the counters are seen to move as the mail does. The Grafana
 * dashboard and the alert rules under deploy/ are checked to load and to name only metrics the
 * endpoint exports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from '../attacks/lib/full-instance.js';
import { freePort, waitFor } from '../lib/instance.js';

const bin = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));
const deploy = (name: string): string => fileURLToPath(new URL(`../../deploy/${name}`, import.meta.url));
let a: FullInstance;
let metricsPort = 0;
let endpoint: ChildProcess;

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  metricsPort = await freePort();
  await a.start({ listen: { metrics: `127.0.0.1:${metricsPort}` }, auth: { failure_delay: '1ms' } });
  endpoint = spawn(process.execPath, [bin, '--config', a.configFile, 'metrics'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).ok, 20_000, 'the metrics endpoint');
});
afterAll(async () => {
  endpoint?.kill('SIGTERM');
  await a?.stop();
});

/** One sample of the text format: name, labels, value (Prometheus exposition format 0.0.4). */
type Samples = Map<string, number>;
async function scrape(): Promise<{ text: string; samples: Samples }> {
  const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  const samples: Samples = new Map();
  const types = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      // one TYPE per family: the apps' registries were merged, not concatenated
      expect(types.has(t[1]!), `TYPE ${t[1]} twice`).toBe(false);
      types.add(t[1]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const labels = (m![2] ?? '')
      .replace(/^\{|\}$/g, '')
      .split(',')
      .filter(Boolean)
      .sort()
      .join(',');
    samples.set(`${m![1]}{${labels}}`, Number(m![3]));
  }
  return { text, samples };
}

/** The sum of every sample of `name` whose labels include all of `labels`. */
function sum(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  let n = 0;
  for (const [key, v] of samples) {
    if (!key.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, val]) => key.includes(`${k}="${val}"`))) n += v;
  }
  return n;
}

async function imapLogin(pass: string): Promise<void> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: a.retrieval.imap,
    secure: false,
    auth: { user: 'alice@a.test', pass },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  try {
    await c.connect();
    await c.logout();
  } catch {
    /* a wrong password: counted */
  }
}

describe('the metrics endpoint', () => {
  it('covers every app, with one family per metric', async () => {
    const { samples } = await scrape();
    for (const app of ['delivery', 'transfer', 'submission']) {
      expect(samples.get(`postern_app_up{app="${app}"}`), app).toBe(1);
      expect(sum(samples, 'postern_process_cpu_seconds_total', { app })).toBeGreaterThan(0);
    }
    expect(samples.get('postern_queue_messages{}')).toBe(0);
    expect(sum(samples, 'postern_store_bytes', { db: 'mail' })).toBeGreaterThan(0);
    expect(samples.get('postern_tls_certificate_expiry_timestamp_seconds{}')).toBeGreaterThan(Date.now() / 1000);
  });

  it('sees the counters move as mail is sent, received, delivered and logged in for', async () => {
    const before = (await scrape()).samples;
    const submission = nodemailer.createTransport({
      host: '127.0.0.1',
      port: a.ports.submission,
      secure: false,
      auth: { user: 'alice@a.test', pass: 'alice-password' },
      tls: { rejectUnauthorized: false },
    });
    const mx = nodemailer.createTransport({ host: '127.0.0.1', port: a.ports.smtp, secure: false, tls: { rejectUnauthorized: false } });
    for (let i = 0; i < 5; i++) await submission.sendMail({ from: 'alice@a.test', to: 'bob@a.test', subject: `s${i}`, text: 'hi' });
    for (let i = 0; i < 3; i++) await mx.sendMail({ from: 'someone@remote.test', to: 'alice@a.test', subject: `m${i}`, text: 'hi' });
    submission.close();
    mx.close();
    await a.waitForMessages('bob@a.test', 5);
    await a.waitForMessages('alice@a.test', 3);
    await imapLogin('alice-password');
    await imapLogin('wrong-password');
    await imapLogin('wrong-password');

    // the queue runner records its outcomes a moment after the mailbox commit
    const after = await waitFor(
      async () => {
        const { samples } = await scrape();
        return sum(samples, 'postern_mail_events_total', { app: 'transfer', event: 'delivered' }) -
          sum(before, 'postern_mail_events_total', { app: 'transfer', event: 'delivered' }) >=
          5
          ? samples
          : null;
      },
      20_000,
      'the transfer app to count its deliveries',
    );
    const moved = (name: string, labels: Record<string, string> = {}): number => sum(after, name, labels) - sum(before, name, labels);
    expect(moved('postern_messages_received_total', { via: 'submission' })).toBe(5);
    expect(moved('postern_messages_received_total', { via: 'mx' })).toBe(3);
    expect(moved('postern_mail_events_total', { app: 'submission', event: 'queued' })).toBe(5);
    // stored in a mailbox: 5 from the queue, 3 handed over directly by the MX
    expect(moved('postern_mail_events_total', { app: 'delivery', event: 'delivered' })).toBe(8);
    expect(moved('postern_delivery_latency_seconds_count', { path: 'submission_to_mailbox' })).toBe(5);
    expect(moved('postern_delivery_latency_seconds_count', { path: 'mx_to_mailbox' })).toBe(3);
    expect(moved('postern_connections_total', { protocol: 'submission', result: 'admitted' })).toBeGreaterThanOrEqual(1);
    expect(moved('postern_connections_total', { protocol: 'smtp', result: 'admitted' })).toBeGreaterThanOrEqual(1);
    expect(moved('postern_connections_total', { protocol: 'imap', result: 'admitted' })).toBe(3);
    expect(moved('postern_logins_total', { protocol: 'imap', result: 'ok' })).toBe(1);
    expect(moved('postern_logins_total', { protocol: 'imap', result: 'failed' })).toBe(2);
    expect(moved('postern_logins_total', { protocol: 'smtp', result: 'ok' })).toBeGreaterThanOrEqual(1);
    // imapflow upgrades with STARTTLS; Node's client and server agree on TLS 1.3
    expect(moved('postern_tls_handshakes_total', { protocol: 'imap', version: 'TLSv1.3' })).toBe(3);
    expect(after.get('postern_queue_messages{}')).toBe(0);
  });

  it('reports an app that stopped as down', async () => {
    await a.stopApp('submission');
    const { samples } = await scrape();
    expect(samples.get('postern_app_up{app="submission"}') ?? 0).toBe(0);
    expect(samples.get('postern_app_up{app="delivery"}')).toBe(1);
    await a.startApp('submission');
  });
});

describe('deploy/', () => {
  it('has a Grafana dashboard that loads as Grafana JSON and shows only exported metrics', async () => {
    const dashboard = JSON.parse(readFileSync(deploy('grafana/postern-dashboard.json'), 'utf8')) as {
      title: string;
      uid: string;
      schemaVersion: number;
      panels: Array<{ id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: Array<{ expr: string }> }>;
    };
    expect(dashboard.title).toBe('Postern');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const { text } = await scrape();
    for (const p of dashboard.panels) {
      expect(p.gridPos.w).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        for (const name of t.expr.match(/postern_[a-z_]+/g) ?? []) {
          const family = name.replace(/_(bucket|sum|count)$/, '');
          expect(text, `${p.title}: ${name}`).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
        }
      }
    }
  });

  it('has Prometheus alert rules over exported metrics', async () => {
    const rules = parseYaml(readFileSync(deploy('prometheus/postern-alerts.yml'), 'utf8')) as {
      groups: Array<{
        name: string;
        rules: Array<{ alert: string; expr: string; for?: string; labels: { severity: string }; annotations: { summary: string } }>;
      }>;
    };
    const { text } = await scrape();
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThanOrEqual(5);
    for (const r of all) {
      expect(r.alert).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(['warning', 'critical']).toContain(r.labels.severity);
      for (const name of r.expr.match(/postern_[a-z_]+/g) ?? []) {
        expect(text, `${r.alert}: ${name}`).toMatch(new RegExp(`^# TYPE ${name.replace(/_(bucket|sum|count)$/, '')} `, 'm'));
      }
    }
  });
});
