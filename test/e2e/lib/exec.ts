/**
 * Running programs for the end-to-end suite: every call has a deadline (a hung client kills
 * the child, never the suite), and the output is kept whole as bytes, because the mail the
 * clients fetch must be compared byte for byte.
 */
import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface ExecOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ExecError extends Error {
  constructor(
    readonly command: string,
    readonly result: ExecResult,
  ) {
    const why = result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
    super(`${command}: ${why}\n--- stderr ---\n${result.stderr.slice(-4000)}\n--- stdout ---\n${result.stdout.toString('utf8').slice(-4000)}`);
    this.name = 'ExecError';
  }
}

/** Runs `cmd args...` to completion (or until the deadline: then SIGKILL). Never throws on a
 * non-zero exit; see `execOk` for that. */
export function exec(cmd: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      // keep the tail: a chatty program must not grow the test's memory without bound
      err = (err + d.toString('utf8')).slice(-200_000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
    // a child that exits without reading its input must not crash us with EPIPE
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Like `exec`, but a non-zero exit (or a kill) throws an ExecError with the output. */
export async function execOk(cmd: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const r = await exec(cmd, args, options);
  if (r.code !== 0) throw new ExecError([cmd, ...args].join(' ').slice(0, 300), r);
  return r;
}

/** Polls `check` until it returns a truthy value; throws after `timeoutMs` with the last error. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs: number, everyMs = 250): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
