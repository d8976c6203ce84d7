/**
 * A remote SMTP server on loopback whose behaviour a test scripts: refuse recipients with a
 * temporary error for the first attempts, require AUTH, and record what arrived.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Received {
  from: string;
  to: string[];
  data: string;
  user: string | null;
}

export interface FakeRemote {
  port: number;
  received: Received[];
  /** RCPT commands seen (each attempt counts). */
  rcptAttempts: number;
  close(): Promise<void>;
}

export interface FakeRemoteOptions {
  /** Answer RCPT with `451 4.3.0` this many times before accepting. */
  deferFirst?: number;
  /** Accept only this user/password (AUTH required when set). */
  auth?: { user: string; pass: string };
}

export async function startFakeRemote(options: FakeRemoteOptions = {}): Promise<FakeRemote> {
  const state: FakeRemote = { port: 0, received: [], rcptAttempts: 0, close: async () => undefined };
  const server = new SMTPServer({
    hideSTARTTLS: true,
    authOptional: !options.auth,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disableReverseLookup: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) return cb(null, { user: auth.username });
      const err = new Error('Authentication failed') as Error & { responseCode: number };
      err.responseCode = 535;
      cb(err);
    },
    onRcptTo(_address, _session, cb) {
      state.rcptAttempts++;
      if (state.rcptAttempts <= (options.deferFirst ?? 0)) {
        const err = new Error('Try again later') as Error & { responseCode: number };
        err.responseCode = 451;
        return cb(err);
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        state.received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
          user: (session.user as string | undefined) ?? null,
        });
        cb(null, 'Ok: thank you');
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.port = (server.server.address() as AddressInfo).port;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
