/** Reading a password: from stdin for scripts (`--password-stdin`), else a prompt without echo. */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CliError, readAll } from './context.js';

export async function readPassword(fromStdin: boolean, prompt = 'Password: '): Promise<string> {
  if (fromStdin || process.env['POSTERN_PASSWORD'] !== undefined) {
    const value = fromStdin ? (await readAll(process.stdin, 4096)).toString('utf8') : process.env['POSTERN_PASSWORD']!;
    // One password, the first line: `echo secret | postern user add ...` works.
    const pw = value.split(/\r?\n/)[0] ?? '';
    if (pw === '') throw new CliError('no password on standard input');
    return pw;
  }
  if (!process.stdin.isTTY) throw new CliError('no terminal to ask for a password: use --password-stdin');
  const first = await askHidden(prompt);
  const second = await askHidden('Again: ');
  if (first !== second) throw new CliError('the two passwords differ');
  return first;
}

/** Asks on the terminal without echoing the answer (the caller checks there is a terminal). */
export async function askHidden(text: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const answer = new Promise<string>((resolve) => rl.question(text, resolve));
  muted = true;
  const value = await answer;
  rl.close();
  process.stderr.write('\n');
  return value;
}
