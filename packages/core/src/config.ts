/**
 * The one configuration file, `postern.toml` (TOML), validated before anything starts.
 *
 * Invariants: a value that is wrong is refused with the file, the key, what was expected and
 * what was found (`ConfigError`). Every path in the returned `Config` is absolute, resolved
 * against the directory of the config file. Every size and count has a limit with a default.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { nextHopMessageSize, TRACE_HEADROOM } from './limits.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${file}: ${key === '' ? '(top level)' : key}: expected ${expected}, found ${found}`);
    this.name = 'ConfigError';
  }
}

/** "host:port" or "[v6]:port"; a listener. */
const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const hostPort = z.string().refine((v) => HOST_PORT.test(v) && Number(HOST_PORT.exec(v)?.[1]) <= 65535, {
  message: 'a "host:port" address such as "127.0.0.1:2525"',
});
/** LMTP may also listen on a unix socket path. */
const hostPortOrPath = z.string().refine((v) => HOST_PORT.test(v) || v.startsWith('/') || v.startsWith('.'), {
  message: 'a "host:port" address or a unix socket path',
});

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Durations are written "30s", "5m", "4h", "5d" (or "250ms"); we keep milliseconds. */
const duration = z
  .string()
  .refine((v) => DURATION.test(v), { message: 'a duration such as "30s", "5m", "4h" or "5d"' })
  .transform((v) => {
    const m = DURATION.exec(v)!;
    return Number(m[1]) * UNIT_MS[m[2]!]!;
  });

/**
 * How long a server waits before its 220 greeting. A client that talks first gets `421 You talk
 * too soon` (postscreen's pregreet test). At most 5m: RFC 5321 §4.5.3.2.1 has clients give up on
 * the greeting after 5 minutes.
 */
const greetingDelay = duration.refine((v) => v <= 300_000, { message: 'a duration of at most "5m"' });

const posInt = (what: string) =>
  z
    .number({ message: `a positive integer (${what})` })
    .int({ message: `a positive integer (${what})` })
    .positive({
      message: `a positive integer (${what})`,
    });

const hostname = z.string().regex(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, {
  message: 'a DNS host name such as "mail.example.org"',
});

const schema = z
  .object({
    hostname,
    /** "production" (default) or "development": the latter allows AUTH without TLS on loopback. */
    profile: z.enum(['production', 'development']).default('production'),
    data_dir: z.string().min(1).default('data'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /**
     * The user who gets mail for root, postmaster, abuse and MAILER-DAEMON (and every account of
     * the host name, such as cron's root@<hostname>); "" = the first user created.
     */
    admin: z
      .string()
      .refine((v) => v === '' || /^[^@\s]+@[^@\s]+$/.test(v), { message: 'empty or a user address "you@example.org"' })
      .default(''),
    listen: z
      .object({
        smtp: hostPort.optional(),
        submission: hostPort.optional(),
        submissions: hostPort.optional(),
        lmtp: hostPortOrPath.optional(),
        imap: hostPort.optional(),
        imaps: hostPort.optional(),
        pop3: hostPort.optional(),
        pop3s: hostPort.optional(),
        /** ManageSieve (RFC 5804), served by the delivery agent's retrieval service. */
        managesieve: hostPort.optional(),
        webmail: hostPort.optional(),
        /** HTTPS (webmail app): the webmail, MTA-STS policy, autoconfig; TLS-ALPN-01 answers (RFC 8737). */
        https: hostPort.optional(),
        /** Plain HTTP (webmail app): only HTTP-01 answers (RFC 8555 §8.3) and redirects to HTTPS. */
        http: hostPort.optional(),
        /** The one Prometheus scrape endpoint for every app (@postern/metrics); loopback only. */
        metrics: hostPort.optional(),
      })
      .strict()
      .default({}),
    tls: z
      .object({ cert: z.string().min(1).default('tls/cert.pem'), key: z.string().min(1).default('tls/key.pem') })
      .strict()
      .default({ cert: 'tls/cert.pem', key: 'tls/key.pem' }),
    /** ACME (RFC 8555) certificates for the host name and each domain's mta-sts/autoconfig names; off while `directory` is "". */
    acme: z
      .object({
        directory: z
          .string()
          .refine((v) => v === '' || /^https:\/\/\S+$/.test(v), { message: 'empty or an https:// directory URL' })
          .default(''),
        /** The account's contact (RFC 8555 §7.3); "" = none. */
        email: z
          .string()
          .refine((v) => v === '' || /^[^@\s]+@[^@\s]+$/.test(v), { message: 'empty or an address "you@example.org"' })
          .default(''),
        /** PEM file of a CA that signed the ACME server's own HTTPS certificate (a private CA, Pebble); "" = the system's. */
        ca: z.string().default(''),
      })
      .strict()
      .default({ directory: '', email: '', ca: '' }),
    dns: z
      .object({
        servers: z.array(hostPort.or(z.string().regex(/^[0-9a-fA-F:.]+$/, { message: 'an IP address' }))).default([]),
        timeout: duration.default(5000),
        // How long the MX's SPF/DKIM/DMARC checks keep a DNS answer ("0s": not at all).
        cache: duration.refine((v) => v <= 3_600_000, { message: 'a duration of at most "1h"' }).default(60_000),
      })
      .strict()
      .default({ servers: [], timeout: 5000, cache: 60_000 }),
    transfer: z
      .object({
        smarthost: z
          .string()
          .refine((v) => v === '' || HOST_PORT.test(v), { message: 'empty or "host:port"' })
          .default(''),
        smarthost_user: z.string().default(''),
        smarthost_password: z.string().default(''),
        /** A file whose first line is "user:password" for AUTH at the smarthost (keeps it out of here). */
        smarthost_auth_file: z.string().default(''),
        /**
         * "auto": verified STARTTLS required on a public address, STARTTLS when offered on a
         * loopback or private one; "starttls" (required), "opportunistic", "implicit" (port 465), "none".
         */
        smarthost_tls: z.enum(['auto', 'starttls', 'opportunistic', 'implicit', 'none']).default('auto'),
        /** PEM file of the CA that signed the smarthost's certificate (a private CA); "" = the system's. */
        smarthost_ca: z.string().default(''),
        routes: z.record(z.string(), hostPort).default({}),
        /** Networks whose clients may relay without AUTH on port 25 (CIDR). Loopback is not implied. */
        trusted_networks: z.array(z.string()).default([]),
        retry_initial: duration.default(300_000),
        retry_max: duration.default(14_400_000),
        queue_lifetime: duration.default(432_000_000),
        delay_warning: duration.default(14_400_000),
        /** How often the queue runner looks for due work when nothing woke it. */
        queue_poll: duration.default(1000),
        max_hops: posInt('Received headers before a message counts as looping').default(50),
        outbound_connections: posInt('parallel outbound connections').default(20),
        /** Before the MX's greeting on `listen.smtp`; "0s" greets at once, as Postfix's smtpd. */
        greeting_delay: greetingDelay.default(0),
        /** Deliver the MX's mail for local users over LMTP before answering DATA, queueing only
         * what that does not deliver (as mox); false queues everything first (as Postfix). */
        direct_delivery: z.boolean().default(true),
      })
      .strict()
      .default({
        smarthost: '',
        smarthost_user: '',
        smarthost_password: '',
        smarthost_auth_file: '',
        smarthost_tls: 'auto',
        smarthost_ca: '',
        routes: {},
        trusted_networks: [],
        retry_initial: 300_000,
        retry_max: 14_400_000,
        queue_lifetime: 432_000_000,
        delay_warning: 14_400_000,
        queue_poll: 1000,
        max_hops: 50,
        outbound_connections: 20,
        greeting_delay: 0,
        direct_delivery: true,
      }),
    /** `postern sendmail` (sendmail(8)). */
    sendmail: z
      .object({
        /** Domain given to addresses without one ("root"), as Postfix's myorigin; "" = the host name. */
        origin: z.union([z.literal(''), hostname]).default(''),
        /** Where ordinary users drop mail (mode 1733, the owner of a file is its sender); relative to this file. */
        maildrop: z.string().min(1).default('maildrop'),
      })
      .strict()
      .default({ origin: '', maildrop: 'maildrop' }),
    submission: z
      .object({
        /** Before the greeting on `listen.submission` and `listen.submissions`; "0s": at once. */
        greeting_delay: greetingDelay.default(0),
      })
      .strict()
      .default({ greeting_delay: 0 }),
    auth: z
      .object({
        /** Failed logins per IP / per account before refusing for `lockout`. */
        max_failures_per_ip: posInt('failed logins').default(10),
        max_failures_per_account: posInt('failed logins').default(5),
        lockout: duration.default(900_000),
        /** Base of the growing delay added after each failure. */
        failure_delay: duration.default(500),
        /** A source that logged in successfully is not locked out with its account for this long. */
        known_source_lifetime: duration.default(2_592_000_000),
        /** A verified password is not hashed again for this long (auth-cache.ts); 0 turns it off. */
        cache_lifetime: duration.default(900_000),
      })
      .strict()
      .default({
        max_failures_per_ip: 10,
        max_failures_per_account: 5,
        lockout: 900_000,
        failure_delay: 500,
        known_source_lifetime: 2_592_000_000,
        cache_lifetime: 900_000,
      }),
    limits: z
      .object({
        message_size: posInt('bytes').default(26_214_400),
        recipients: posInt('recipients per message').default(100),
        line_length: posInt('bytes per line').default(4096),
        command_timeout: duration.default(300_000),
        /** The whole command line must arrive within this, however slowly it trickles (SMTP;
         * IMAP and POP3 before login). RFC 5321 §4.5.3.2.7: at least 5 minutes. */
        command_deadline: duration.default(300_000),
        /** SMTP DATA, from the 354 to the final dot. */
        data_deadline: duration.default(900_000),
        /** The longest SMTP session, and the longest IMAP/POP3 session before login. */
        session_lifetime: duration.default(3_600_000),
        connections_per_ip: posInt('connections').default(20),
        /** Per IPv4 /24 or IPv6 /64 (never below connections_per_ip). */
        connections_per_subnet: posInt('connections').default(100),
        connections_total: posInt('connections').default(1000),
        /** New connections are refused while this share of connections_total is not logged in. */
        connections_unauthenticated_percent: posInt('percent of connections_total')
          .max(100, { message: 'a positive integer (percent of connections_total, at most 100)' })
          .default(80),
        imap_line_length: posInt('bytes').default(65_536),
        imap_idle_timeout: duration.default(1_800_000),
        imap_connections_per_user: posInt('connections').default(50),
        /** Bytes of arriving messages one process holds at once (memory and spool together);
         * at least message_size + TRACE_HEADROOM, checked in configFromObject. */
        data_in_flight: posInt('bytes').default(268_435_456),
        /** Per-user storage limit in bytes; 0 means no limit. */
        mailbox_quota: z.number().int().nonnegative({ message: 'a non-negative integer (bytes; 0 = no limit)' }).default(0),
        /** Threads that index (MIME-parse) delivered and appended mail off the session thread; 0: the cores but one, at most 4. */
        index_threads: z
          .number()
          .int()
          .nonnegative({ message: 'a non-negative integer (threads; 0 = automatic)' })
          .max(64, { message: 'at most 64 threads' })
          .default(0),
        /** Keys (criteria, NOT/OR included) in one IMAP SEARCH; more get NO [LIMIT]. */
        imap_search_keys: posInt('search keys').default(100),
      })
      .strict()
      .default({
        message_size: 26_214_400,
        recipients: 100,
        line_length: 4096,
        command_timeout: 300_000,
        command_deadline: 300_000,
        data_deadline: 900_000,
        session_lifetime: 3_600_000,
        connections_per_ip: 20,
        connections_per_subnet: 100,
        connections_total: 1000,
        connections_unauthenticated_percent: 80,
        imap_line_length: 65_536,
        imap_idle_timeout: 1_800_000,
        imap_connections_per_user: 50,
        data_in_flight: 268_435_456,
        mailbox_quota: 0,
        index_threads: 0,
        imap_search_keys: 100,
      }),
    /** Sieve filters (@postern/sieve): every script and run is bounded by these. */
    sieve: z
      .object({
        /** Bytes of one script (ManageSieve's quota per script). */
        max_script_size: posInt('bytes').max(1_048_576, { message: 'at most 1048576 bytes' }).default(65_536),
        /** Scripts one user may store. */
        max_scripts: posInt('scripts').max(1000, { message: 'at most 1000 scripts' }).default(16),
        max_actions: posInt('actions per run').max(1000, { message: 'at most 1000 actions' }).default(32),
        max_redirects: posInt('redirects per message').max(100, { message: 'at most 100 redirects' }).default(4),
        /** Commands, tests and comparisons one run may take before it is stopped (and the message kept). */
        max_steps: posInt('steps').max(100_000_000, { message: 'at most 100000000 steps' }).default(100_000),
        max_nesting: posInt('levels').max(256, { message: 'at most 256 levels' }).default(32),
        max_include_depth: posInt('levels').max(64, { message: 'at most 64 levels' }).default(5),
        max_includes: posInt('scripts').max(256, { message: 'at most 256 scripts' }).default(16),
        max_variables: posInt('variables').max(10_000, { message: 'at most 10000 variables' }).default(128),
        max_variable_size: posInt('characters').max(1_048_576, { message: 'at most 1048576 characters' }).default(4096),
        max_header_edits: posInt('edits').max(1000, { message: 'at most 1000 edits' }).default(64),
        /** The shortest and longest vacation period a script may ask for (:days / :seconds are clamped). */
        vacation_min_period: duration.default(86_400_000),
        vacation_max_period: duration.default(7_776_000_000),
        /** How long `duplicate` remembers an id without :seconds, and at most. */
        duplicate_period: duration.default(604_800_000),
        duplicate_max_period: duration.default(2_592_000_000),
      })
      .strict()
      .default({
        max_script_size: 65_536,
        max_scripts: 16,
        max_actions: 32,
        max_redirects: 4,
        max_steps: 100_000,
        max_nesting: 32,
        max_include_depth: 5,
        max_includes: 16,
        max_variables: 128,
        max_variable_size: 4096,
        max_header_edits: 64,
        vacation_min_period: 86_400_000,
        vacation_max_period: 7_776_000_000,
        duplicate_period: 604_800_000,
        duplicate_max_period: 2_592_000_000,
      }),
    webmail: z
      .object({
        session_lifetime: duration.default(43_200_000),
        /** IMAP and submission endpoints the webmail logs in to; default: our own listeners. */
        imap: hostPort.optional(),
        smtp: hostPort.optional(),
        /**
         * Reverse proxies in front of the webmail whose X-Forwarded-For (the browser's address,
         * which the login throttle keys on) and X-Forwarded-Proto are believed; from any other
         * peer those headers are ignored.
         */
        trusted_proxies: z
          .array(z.string().refine((v) => isIP(v) !== 0, { message: 'an IP address such as "127.0.0.1" or "::1"' }))
          .max(100, { message: 'at most 100 addresses' })
          .default([]),
      })
      .strict()
      .default({ session_lifetime: 43_200_000, trusted_proxies: [] }),
    /** `postern backup` without --to, and the schedule `postern start` keeps (every = "" is none). */
    backup: z
      .object({
        /** Where backups go (relative to this file). */
        dir: z.string().min(1).default('backups'),
        /** How often `postern start` takes one: a duration ("1d"), or "" for never. */
        every: z.union([z.literal(''), duration]).default(''),
        /** How many scheduled backups are kept; older ones are removed after a new one is written. */
        keep: z.number().int().min(1).max(1000).default(7),
        /** A file holding the passphrase scheduled backups are encrypted with; "" = not encrypted. */
        passphrase_file: z.string().default(''),
      })
      .strict()
      .default({ dir: 'backups', every: '', keep: 7, passphrase_file: '' }),
    dkim: z
      .object({
        selector: z
          .string()
          .regex(/^[A-Za-z0-9._-]+$/, { message: 'a DKIM selector (letters, digits, - . _)' })
          .default('postern'),
      })
      .strict()
      .default({ selector: 'postern' }),
    /** What the SPF/DKIM/DMARC checks on port 25 do with failures (see @postern/trust's inbound.ts). */
    inbound: z
      .object({
        /** DMARC failure where the From: domain says p=reject. */
        dmarc_reject: z.enum(['reject', 'junk', 'accept']).default('reject'),
        /** DMARC failure under p=quarantine. */
        dmarc_quarantine: z.enum(['junk', 'accept']).default('junk'),
        /** SPF fail ("-all") without an aligned DKIM pass. */
        spf_fail: z.enum(['junk', 'accept']).default('junk'),
        /** The most a DMARC failure does to mail with a valid ARC chain or mailing-list headers. */
        forwarded: z.enum(['junk', 'accept']).default('junk'),
      })
      .strict()
      .default({ dmarc_reject: 'reject', dmarc_quarantine: 'junk', spf_fail: 'junk', forwarded: 'junk' }),
  })
  .strict();

export type RawConfig = z.output<typeof schema>;
export type ListenerName = keyof RawConfig['listen'];

export interface Config extends RawConfig {
  /** Absolute path of the file this came from. */
  file: string;
  /** Absolute data directory. */
  dataDir: string;
  tlsCert: string;
  tlsKey: string;
  /** Absolute maildrop directory (`sendmail.maildrop`). */
  maildropDir: string;
  /** The domain bare names get: `sendmail.origin`, else the host name. */
  origin: string;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `an array ${JSON.stringify(value).slice(0, 80)}`;
  if (value !== null && typeof value === 'object') return 'a table';
  return `${typeof value} ${String(value)}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** Validates an already-parsed TOML document; `file` is only for messages and path resolution. */
export function configFromObject(raw: unknown, file: string): Config {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.map(String).join('.');
    let expected = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const k = issue.keys[0] ?? '';
      throw new ConfigError(file, key === '' ? k : `${key}.${k}`, 'no such key (a known setting)', 'an unknown key');
    }
    if (issue.code === 'invalid_type') {
      expected = issue.message.startsWith('Invalid input') ? issue.expected : issue.message;
    }
    if (issue.code === 'invalid_value') expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    throw new ConfigError(file, key, expected, describe(valueAt(raw, issue.path)));
  }
  // one message of the largest size, with the fields our hops add, must fit
  const largest = nextHopMessageSize(result.data.limits);
  if (result.data.limits.data_in_flight < largest) {
    throw new ConfigError(
      file,
      'limits.data_in_flight',
      `at least limits.message_size + ${TRACE_HEADROOM} (${largest})`,
      `${result.data.limits.data_in_flight}`,
    );
  }
  if (result.data.acme.directory !== '' && !result.data.listen.https && !result.data.listen.http) {
    // the CA proves we hold the names by connecting to one of these (RFC 8737 §3, RFC 8555 §8.3)
    throw new ConfigError(file, 'listen.https', 'listen.https or listen.http set when acme.directory is (ACME answers challenges there)', 'neither');
  }
  const base = dirname(file);
  const abs = (p: string, from: string): string => (isAbsolute(p) ? p : resolve(from, p));
  const dataDir = abs(result.data.data_dir, base);
  return {
    ...result.data,
    file,
    dataDir,
    tlsCert: abs(result.data.tls.cert, base),
    tlsKey: abs(result.data.tls.key, base),
    maildropDir: abs(result.data.sendmail.maildrop, base),
    backup: {
      ...result.data.backup,
      dir: abs(result.data.backup.dir, base),
      passphrase_file: result.data.backup.passphrase_file && abs(result.data.backup.passphrase_file, base),
    },
    origin: (result.data.sendmail.origin || result.data.hostname).toLowerCase(),
    acme: { ...result.data.acme, ca: result.data.acme.ca && abs(result.data.acme.ca, base) },
    transfer: {
      ...result.data.transfer,
      smarthost_ca: result.data.transfer.smarthost_ca && abs(result.data.transfer.smarthost_ca, base),
      smarthost_auth_file: result.data.transfer.smarthost_auth_file && abs(result.data.transfer.smarthost_auth_file, base),
    },
  };
}

/** Reads and validates a config file. Throws ConfigError (never a raw exception) on any problem. */
export function loadConfig(file: string): Config {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(path, '', 'a readable TOML file (run `postern init` to write one)', `${code}`);
  }
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    const where = err instanceof TomlError ? `line ${err.line}, column ${err.column}` : '';
    throw new ConfigError(path, '', 'valid TOML', `a syntax error ${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  return configFromObject(raw, path);
}

/** Which file to load: `--config FILE`, else $POSTERN_CONFIG, else ./postern.toml. */
export function configPath(explicit?: string): string {
  return resolve(explicit ?? process.env['POSTERN_CONFIG'] ?? 'postern.toml');
}

/** Splits "host:port" / "[v6]:port" into its parts. */
export function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  let host = value.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(value.slice(i + 1)) };
}

/** The development profile's listeners (all on loopback, high ports). */
export const DEV_LISTEN = {
  smtp: '127.0.0.1:2525',
  submission: '127.0.0.1:2587',
  submissions: '127.0.0.1:2465',
  // 2024 would match the other dev ports, but on our machines the sandbox agent (PID 1) holds it.
  lmtp: '127.0.0.1:2424',
  imap: '127.0.0.1:2143',
  imaps: '127.0.0.1:2993',
  pop3: '127.0.0.1:2110',
  pop3s: '127.0.0.1:2995',
  managesieve: '127.0.0.1:24190',
  webmail: '127.0.0.1:8080',
} as const;

/** `postern init --acme`: the web ports the CA connects to (RFC 8737 §3: 443; RFC 8555 §8.3: 80). */
export const ACME_LISTEN = { https: '0.0.0.0:443', http: '0.0.0.0:80' } as const;

/** Let's Encrypt's production directory, what `postern init --acme` writes. */
export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

export const PRODUCTION_LISTEN = {
  smtp: '0.0.0.0:25',
  submission: '0.0.0.0:587',
  submissions: '0.0.0.0:465',
  lmtp: '127.0.0.1:24',
  imap: '0.0.0.0:143',
  imaps: '0.0.0.0:993',
  pop3: '0.0.0.0:110',
  pop3s: '0.0.0.0:995',
  managesieve: '0.0.0.0:4190',
  webmail: '127.0.0.1:8080',
} as const;
