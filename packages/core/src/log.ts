/**
 * Structured logging (pino): one JSON line per event. Every line carries the app name; lines of a
 * connection carry its `cid`; mail events (queued, delivered, deferred, bounced) carry `mail` and
 * the queue id, so one message can be followed through every app.
 */
import { randomBytes } from 'node:crypto';
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/** `destination`: where the lines go (default stdout); `postern start` formats its own for a terminal. */
export function createLogger(app: string, level?: LevelWithSilent, destination?: DestinationStream): Logger {
  const envLevel = process.env['POSTERN_LOG_LEVEL'] as LevelWithSilent | undefined;
  const options = {
    name: app,
    level: envLevel ?? level ?? 'info',
    base: { app },
    // Never log secrets, whatever a caller passes in.
    redact: { paths: ['password', '*.password', 'pass', '*.pass', 'auth.password', 'credentials'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A short random id for a connection or a queue entry: 12 base32 characters. */
export function newId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(12);
  let out = '';
  for (const b of bytes) out += alphabet[b & 31];
  return out;
}
