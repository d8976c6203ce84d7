/** A config for tests: a real `Config` (validated by core) with its data directory in tmp. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject, type Config } from '@postern/core';

export function testConfig(hostname: string, extra: Record<string, unknown> = {}): { config: Config; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'postern-trust-'));
  const config = configFromObject(
    {
      hostname,
      data_dir: 'data',
      listen: { smtp: '0.0.0.0:25', submission: '0.0.0.0:587', submissions: '0.0.0.0:465', imap: '0.0.0.0:143', imaps: '0.0.0.0:993', pop3s: '0.0.0.0:995' },
      ...extra,
    },
    join(dir, 'postern.toml'),
  );
  return { config, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A plain message, CRLF line ends. */
export function message(headers: Record<string, string>, body = 'Hello Bob,\r\n\r\nsee you tomorrow.\r\n'): Buffer {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
