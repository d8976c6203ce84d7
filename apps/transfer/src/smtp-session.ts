/**
 * Promise wrappers around nodemailer's SMTPConnection, the client under both our LMTP and our
 * outbound SMTP: connect (greeting, EHLO/LHLO, STARTTLS), AUTH, one transaction, QUIT.
 */
import SMTPConnection, { type SMTPConnectionOptions, type SMTPConnectionSendInfo, type SMTPEnvelope } from 'nodemailer/lib/smtp-connection';
import type { ClientError } from './outcomes.js';

export class SmtpSession {
  readonly conn: SMTPConnection;
  /** Set once the connection failed or closed; a closed session is never reused. */
  closed = false;
  messages = 0;

  constructor(options: SMTPConnectionOptions) {
    this.conn = new SMTPConnection(options);
    // A failure of the connection (refused, reset, timeout) comes as an 'error' or 'end'
    // event, not through the callback of the operation in progress: fail that operation.
    // (Without a listener an 'error' event would also crash the process.)
    this.conn.on('error', (err: ClientError) => this.fail(err));
    this.conn.on('end', () => this.fail(new Error('connection closed by the server')));
  }

  private failPending: ((err: ClientError) => void) | null = null;

  private fail(err: ClientError): void {
    this.closed = true;
    const f = this.failPending;
    this.failPending = null;
    f?.(err);
  }

  /** Runs one client operation; it settles once, by its callback or by a connection failure. */
  private op<T>(start: (done: (err: ClientError | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const done = (err: ClientError | null | undefined, value?: T): void => {
        if (settled) return;
        settled = true;
        this.failPending = null;
        if (err) reject(err);
        else resolve(value as T);
      };
      if (this.closed) return done(new Error('connection closed'));
      this.failPending = (err) => done(err);
      start(done);
    });
  }

  connect(): Promise<void> {
    return this.op<void>((done) => this.conn.connect((err?: ClientError) => done(err)));
  }

  login(user: string, pass: string): Promise<void> {
    return this.op<void>((done) => this.conn.login({ user, pass }, (err: ClientError | null) => done(err)));
  }

  send(envelope: SMTPEnvelope, data: Buffer): Promise<SMTPConnectionSendInfo> {
    this.messages++;
    return this.op<SMTPConnectionSendInfo>((done) =>
      this.conn.send(envelope, data, (err: ClientError | null, info?: SMTPConnectionSendInfo) =>
        done(err ?? (info ? null : new Error('no result from send')), info),
      ),
    );
  }

  reset(): Promise<void> {
    return this.op<void>((done) => this.conn.reset((err: ClientError | null) => done(err)));
  }

  quit(): void {
    this.closed = true;
    try {
      this.conn.quit();
    } catch {
      this.conn.close();
    }
  }

  get secure(): boolean {
    return this.conn.secure;
  }
}
