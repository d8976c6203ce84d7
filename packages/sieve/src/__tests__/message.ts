/** A test message: raw RFC 5322 text split into unfolded fields and a body. */
import type { BodyTransform, SieveEnvironment, SieveMessage } from '../execute.js';
import { compile, DEFAULT_LIMITS, execute, type SieveLimits, type SieveResult } from '../index.js';

export function message(raw: string): SieveMessage {
  const text = raw.replace(/\r?\n/g, '\r\n');
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + 4);
  const headers: Array<{ name: string; value: string }> = [];
  for (const line of head.split('\r\n')) {
    if (/^[ \t]/.test(line) && headers.length > 0) headers[headers.length - 1]!.value += ` ${line.trim()}`;
    else {
      const i = line.indexOf(':');
      if (i > 0) headers.push({ name: line.slice(0, i), value: line.slice(i + 1).trim() });
    }
  }
  return {
    headers,
    size: Buffer.byteLength(text),
    body: (t: BodyTransform) => (t.kind === 'content' && !t.types.some((x) => x === '' || x.startsWith('text')) ? [] : [body]),
  };
}

export const MSG = message(`Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)
From: coyote@desert.example.org
To: roadrunner@acme.example.com
Subject: I have a present for you
Message-ID: <1234@desert.example.org>
X-Caffeine: C8H10N4O2

Look, I'm sorry about the whole anvil thing, and I really
didn't mean to try and drop it on you from the cliff.
`);

export function run(script: string, msg: SieveMessage = MSG, env: Partial<SieveEnvironment> = {}, limits: Partial<SieveLimits> = {}): SieveResult {
  const l = { ...DEFAULT_LIMITS, ...limits };
  return execute(compile(script, l), msg, { envelope: { from: 'coyote@desert.example.org', to: 'roadrunner@acme.example.com' }, ...env }, l);
}

/** The actions in a short form: "keep", "fileinto:Junk", "redirect:a@b", "discard"... */
export function summary(r: SieveResult): string[] {
  return r.actions.map((a) => {
    switch (a.type) {
      case 'keep':
        return a.flags.length ? `keep[${a.flags.join(' ')}]` : 'keep';
      case 'fileinto':
        return `fileinto:${a.mailbox}${a.flags.length ? `[${a.flags.join(' ')}]` : ''}`;
      case 'redirect':
        return `redirect:${a.address}`;
      case 'reject':
        return `${a.ereject ? 'ereject' : 'reject'}:${a.reason}`;
      case 'vacation':
        return `vacation:${a.seconds}`;
      default:
        return a.type;
    }
  });
}
