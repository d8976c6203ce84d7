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
    // an 'error' event without a listener would crash the process
    this.conn.on('error', () => {
      this.closed = true;
    });
    this.conn.on('end', () => {
      this.closed = true;
    });
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.conn.connect((err?: ClientError) => (err ? reject(err) : resolve()));
    });
  }

  login(user: string, pass: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.conn.login({ user, pass }, (err: ClientError | null) => (err ? reject(err) : resolve()));
    });
  }

  send(envelope: SMTPEnvelope, data: Buffer): Promise<SMTPConnectionSendInfo> {
    return new Promise((resolve, reject) => {
      this.conn.send(envelope, data, (err: ClientError | null, info?: SMTPConnectionSendInfo) => {
        this.messages++;
        if (err || !info) reject(err ?? new Error('no result from send'));
        else resolve(info);
      });
    });
  }

  reset(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.conn.reset((err: ClientError | null) => (err ? reject(err) : resolve()));
    });
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
