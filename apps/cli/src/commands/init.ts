/**
 * `postern init`: writes postern.toml, the data directory and a self-signed certificate, and
 * adds the first domain. `--dev` picks the development profile: every listener on 127.0.0.1 on a
 * high port, AUTH allowed without TLS from loopback, domain postern.test unless given.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import {
  ACME_LISTEN,
  DEV_LISTEN,
  LETS_ENCRYPT_DIRECTORY,
  PRODUCTION_LISTEN,
  ensureCertificate,
  loadConfig,
  normalizeDomain,
  openMailDb,
  type Config,
} from '@postern/core';
import { ensureDomainKeys } from '@postern/trust';
import { CliError, configFileOf } from '../context.js';

export interface InitOptions {
  domain?: string;
  hostname?: string;
  dev?: boolean;
  force?: boolean;
  /** Certificates from Let's Encrypt (ACME), answered on 443 and 80. */
  acme?: boolean;
  acmeEmail?: string;
}

export function configText(o: { domain: string; hostname: string; dev: boolean; acme?: boolean; acmeEmail?: string }): string {
  const listen = o.dev ? DEV_LISTEN : PRODUCTION_LISTEN;
  const web = o.acme
    ? `https = "${ACME_LISTEN.https}"               # the webmail, MTA-STS policy, autoconfig; ACME's TLS-ALPN-01
http = "${ACME_LISTEN.http}"                 # only ACME's HTTP-01 and redirects to https
`
    : `# https = "${ACME_LISTEN.https}"             # the webmail, MTA-STS policy, autoconfig (postern init --acme)
# http = "${ACME_LISTEN.http}"               # ACME's HTTP-01 and redirects to https
`;
  return `# Postern configuration. Every key is documented in the README; a wrong value is refused at
# start with the key and what was expected.
hostname = "${o.hostname}"            # our name in EHLO, banners and Received: headers
profile = "${o.dev ? 'development' : 'production'}"${o.dev ? '        # development: AUTH without TLS allowed from loopback' : ''}
data_dir = "data"                    # SQLite databases and keys, relative to this file
admin = ""                           # gets mail for root, postmaster, abuse, MAILER-DAEMON; "" = the first user

[listen]                             # "host:port"; remove a key to turn that listener off
smtp = "${listen.smtp}"              # MX: mail from the internet (transfer)
submission = "${listen.submission}"  # mail clients, STARTTLS (submission)
submissions = "${listen.submissions}" # mail clients, implicit TLS (submission)
lmtp = "${listen.lmtp}"              # transfer -> delivery agent
imap = "${listen.imap}"
imaps = "${listen.imaps}"
pop3 = "${listen.pop3}"
pop3s = "${listen.pop3s}"
managesieve = "${listen.managesieve}"  # Sieve filters (RFC 5804): sieve-connect, Thunderbird, Roundcube
webmail = "${listen.webmail}"
${web}
[tls]                                # PEM files; a Let's Encrypt pair works as is, reloaded when changed
cert = "data/tls/cert.pem"           # with [acme] on, ACME keeps this pair (for the host name)
key = "data/tls/key.pem"

[acme]                               # certificates for the host name and mta-sts/autoconfig/autodiscover.<domain>
directory = "${o.acme ? LETS_ENCRYPT_DIRECTORY : ''}"${o.acme ? '' : '                       # "" = off; Let\'s Encrypt: ' + LETS_ENCRYPT_DIRECTORY}
email = "${o.acme ? (o.acmeEmail ?? `postmaster@${o.domain}`) : ''}"                           # the CA writes here about the account

[dns]
servers = []                         # resolvers as "ip:port"; empty = the system's
cache = "1m"                         # how long the MX's SPF/DKIM/DMARC checks keep a DNS answer

[transfer]
smarthost = ""                       # "host:port": relay all outbound mail through it
smarthost_tls = "auto"               # auto: verified STARTTLS required on a public address, used if offered on a
                                     # private one; or "starttls", "opportunistic", "implicit" (465), "none"
smarthost_ca = ""                    # PEM file of a private CA that signed the smarthost's certificate
smarthost_auth_file = ""             # file with one line "user:password" for AUTH at the smarthost
routes = {}                          # { "example.net" = "10.0.0.2:25" }: next hop per domain
greeting_delay = "0s"                # before the MX's 220; "1s"-"6s": a client that talks first gets 421

[sendmail]
origin = ""                          # domain for bare names (cron's "root"); "" = hostname
maildrop = "maildrop"                # ordinary users' sendmail drops mail here (mode 1733)

[limits]
message_size = 26214400              # bytes
recipients = 100                     # per message
# data_in_flight = 268435456         # bytes of arriving mail per process; at least message_size + 65536
# connections_per_subnet = 100       # per IPv4 /24 or IPv6 /64; the README lists the other limits
index_threads = 0                    # threads that MIME-index mail; 0 = cores - 1, at most 4
imap_search_keys = 100               # keys in one IMAP SEARCH; more get NO [LIMIT]

[webmail]
trusted_proxies = []                 # the reverse proxy in front of the webmail, e.g. ["127.0.0.1"]:
                                     # only its X-Forwarded-For (the browser's address) is believed
`;
}

export async function runInit(file: string, o: InitOptions): Promise<Config> {
  if (existsSync(file) && !o.force) throw new CliError(`${file} exists already (use --force to overwrite it)`);
  const domain = normalizeDomain(o.domain ?? (o.dev ? 'postern.test' : ''));
  if (!domain) throw new CliError('--domain is required (the mail domain, e.g. example.org)');
  const hostname = o.hostname ?? `mail.${domain}`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, configText({ domain, hostname, dev: !!o.dev, acme: !!o.acme, ...(o.acmeEmail ? { acmeEmail: o.acmeEmail } : {}) }));
  const config = loadConfig(file);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o750 });
  await ensureCertificate(config.tlsCert, config.tlsKey, hostname);
  const m = openMailDb(config);
  try {
    if (!m.accounts.findDomain(domain)) m.accounts.addDomain(domain);
  } finally {
    m.close();
  }
  ensureDomainKeys(config, domain);
  return config;
}

export function register(program: Command): void {
  program
    .command('init')
    .description('write the config, the data directory and a self-signed certificate')
    .option('--domain <domain>', 'the mail domain (default with --dev: postern.test)')
    .option('--hostname <name>', "this server's host name (default: mail.<domain>)")
    .option('--dev', 'development profile: loopback, high ports')
    .option('--force', 'overwrite an existing config file')
    .option('--acme', "certificates from Let's Encrypt (ACME), proved on ports 443 and 80")
    .option('--acme-email <address>', 'contact for the ACME account (default: postmaster@<domain>)')
    .action(async (o: InitOptions, cmd: Command) => {
      const file = configFileOf(cmd);
      const config = await runInit(file, o);
      process.stdout.write(`wrote ${file}\ndata in ${config.dataDir}\ncertificate ${config.tlsCert}\n`);
      process.stdout.write(`next: postern user add you@${[...new Set([o.domain ?? 'postern.test'])][0]}, then postern start\n`);
    });
}
