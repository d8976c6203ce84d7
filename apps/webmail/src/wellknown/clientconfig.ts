/**
 * What mail clients are told to connect to, in the three forms they ask for it:
 * - Thunderbird autoconfig (`config-v1.1.xml`, the format of Mozilla's ISPDB);
 * - Outlook autodiscover, the "POX" form (plain old XML, MS-OXDSCLI §2.2.4);
 * - an Apple configuration profile (`.mobileconfig`, the `com.apple.mail.managed` payload).
 *
 * Every form names the host name and the ports of our own listeners, implicit TLS first (RFC
 * 8314 §3: preferred over STARTTLS), and the full address as the login name (Postern's logins
 * are addresses). A listener that is off is left out.
 */
import { createHash } from 'node:crypto';
import { splitHostPort, type Config } from '@postern/core';

export interface ClientServer {
  protocol: 'imap' | 'pop3' | 'smtp';
  port: number;
  /** 'SSL': TLS from the first byte; 'STARTTLS': upgraded after the greeting. */
  socket: 'SSL' | 'STARTTLS';
}

/** Our listeners a client may use, in order of preference per protocol. */
export function clientServers(config: Pick<Config, 'listen'>): ClientServer[] {
  const l = config.listen;
  const out: ClientServer[] = [];
  const add = (protocol: ClientServer['protocol'], value: string | undefined, socket: ClientServer['socket']): void => {
    if (value) out.push({ protocol, port: splitHostPort(value).port, socket });
  };
  add('imap', l.imaps, 'SSL');
  add('imap', l.imap, 'STARTTLS');
  add('pop3', l.pop3s, 'SSL');
  add('pop3', l.pop3, 'STARTTLS');
  add('smtp', l.submissions, 'SSL');
  add('smtp', l.submission, 'STARTTLS');
  return out;
}

function xml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** Thunderbird's autoconfig file for `domain` (the format Thunderbird's AccountConfig reads). */
export function thunderbirdAutoconfig(config: Pick<Config, 'listen' | 'hostname'>, domain: string): string {
  const server = (s: ClientServer): string => {
    const tag = s.protocol === 'smtp' ? 'outgoingServer' : 'incomingServer';
    return `    <${tag} type="${s.protocol}">
      <hostname>${xml(config.hostname)}</hostname>
      <port>${s.port}</port>
      <socketType>${s.socket}</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </${tag}>
`;
  };
  return `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="${xml(domain)}">
    <domain>${xml(domain)}</domain>
    <displayName>${xml(domain)} mail</displayName>
    <displayShortName>${xml(domain)}</displayShortName>
${clientServers(config).map(server).join('')}  </emailProvider>
</clientConfig>
`;
}

/** The address an autodiscover request asks about (`<EMailAddress>`), or null. */
export function autodiscoverAddress(body: string): string | null {
  const m = /<EMailAddress>\s*([^<\s]+@[^<\s]+)\s*<\/EMailAddress>/i.exec(body);
  return m ? m[1]! : null;
}

/** Outlook's POX autodiscover response (MS-OXDSCLI §2.2.4.2) for `address`. */
export function outlookAutodiscover(config: Pick<Config, 'listen' | 'hostname'>, address: string): string {
  const protocol = (s: ClientServer): string => `      <Protocol>
        <Type>${s.protocol.toUpperCase()}</Type>
        <Server>${xml(config.hostname)}</Server>
        <Port>${s.port}</Port>
        <LoginName>${xml(address)}</LoginName>
        <DomainRequired>off</DomainRequired>
        <SPA>off</SPA>
        <SSL>on</SSL>
        <Encryption>${s.socket === 'SSL' ? 'SSL' : 'TLS'}</Encryption>
        <AuthRequired>on</AuthRequired>
      </Protocol>
`;
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
${clientServers(config)
  .filter((s) => s.protocol !== 'pop3')
  .map(protocol)
  .join('')}    </Account>
  </Response>
</Autodiscover>
`;
}

/** A UUID that stays the same for the same input, so a downloaded profile replaces its earlier copy. */
function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

/** An Apple configuration profile that sets up `address` for IMAP and submission (unsigned). */
export function appleMobileconfig(config: Pick<Config, 'listen' | 'hostname'>, address: string): string {
  const servers = clientServers(config);
  const imap = servers.find((s) => s.protocol === 'imap');
  const smtp = servers.find((s) => s.protocol === 'smtp');
  if (!imap || !smtp) throw new Error('a profile needs an IMAP and a submission listener');
  const reverse = config.hostname.split('.').reverse().join('.');
  const id = `${reverse}.postern.${address}`;
  const s = (v: string): string => `<string>${xml(v)}</string>`;
  const b = (v: boolean): string => (v ? '<true/>' : '<false/>');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>EmailAccountDescription</key>${s(address)}
      <key>EmailAccountType</key>${s('EmailTypeIMAP')}
      <key>EmailAddress</key>${s(address)}
      <key>IncomingMailServerAuthentication</key>${s('EmailAuthPassword')}
      <key>IncomingMailServerHostName</key>${s(config.hostname)}
      <key>IncomingMailServerPortNumber</key><integer>${imap.port}</integer>
      <key>IncomingMailServerUseSSL</key>${b(true)}
      <key>IncomingMailServerUsername</key>${s(address)}
      <key>OutgoingMailServerAuthentication</key>${s('EmailAuthPassword')}
      <key>OutgoingMailServerHostName</key>${s(config.hostname)}
      <key>OutgoingMailServerPortNumber</key><integer>${smtp.port}</integer>
      <key>OutgoingMailServerUseSSL</key>${b(true)}
      <key>OutgoingMailServerUsername</key>${s(address)}
      <key>OutgoingPasswordSameAsIncomingPassword</key>${b(true)}
      <key>PayloadDisplayName</key>${s(`Mail: ${address}`)}
      <key>PayloadIdentifier</key>${s(`${id}.mail`)}
      <key>PayloadType</key>${s('com.apple.mail.managed')}
      <key>PayloadUUID</key>${s(stableUuid(`${id}.mail`))}
      <key>PayloadVersion</key><integer>1</integer>
    </dict>
  </array>
  <key>PayloadDisplayName</key>${s(`${address} (${config.hostname})`)}
  <key>PayloadIdentifier</key>${s(id)}
  <key>PayloadRemovalDisallowed</key>${b(false)}
  <key>PayloadType</key>${s('Configuration')}
  <key>PayloadUUID</key>${s(stableUuid(id))}
  <key>PayloadVersion</key><integer>1</integer>
</dict>
</plist>
`;
}
