/**
 * The machine's own accounts (/etc/passwd): who a uid is, for `postern sendmail`'s sender, and
 * which local parts of the host name are real accounts (as Postfix's local_recipient_maps =
 * unix:passwd.byname). Read on each call: the file is small and users come and go.
 */
import { readFileSync } from 'node:fs';

function passwdEntries(): Array<{ name: string; uid: number }> {
  let text: string;
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return [];
  }
  const out: Array<{ name: string; uid: number }> = [];
  for (const line of text.split('\n', 100_000)) {
    const [name, , uid] = line.split(':', 4);
    if (name && uid !== undefined && /^\d+$/.test(uid)) out.push({ name, uid: Number(uid) });
  }
  return out;
}

/** The login name of `uid`, or null when /etc/passwd does not know it. */
export function unixUserName(uid: number): string | null {
  return passwdEntries().find((e) => e.uid === uid)?.name ?? null;
}

/** Whether `name` is an account of this machine. */
export function isUnixUser(name: string): boolean {
  return passwdEntries().some((e) => e.name === name);
}
