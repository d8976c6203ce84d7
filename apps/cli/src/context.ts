/**
 * What every `postern` command shares: which config file, loading it, opening mail.db, and
 * turning errors into a message on stderr with a non-zero exit code.
 */
import type { Command } from 'commander';
import { configPath, loadConfig, openMailDb, type Config, type MailDb } from '@postern/core';

/** The config file selected by `--config FILE`, $POSTERN_CONFIG or ./postern.toml. */
export function configFileOf(cmd: Command): string {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  return configPath(root.opts<{ config?: string }>().config);
}

export function configOf(cmd: Command): Config {
  return loadConfig(configFileOf(cmd));
}

/** Runs `fn` with mail.db open and closes it afterwards. */
export async function withMailDb<T>(cmd: Command, fn: (m: MailDb, config: Config) => Promise<T> | T): Promise<T> {
  const config = configOf(cmd);
  const m = openMailDb(config);
  try {
    return await fn(m, config);
  } finally {
    m.close();
  }
}

/** Prints rows as JSON (`--json`) or as aligned columns. */
export function printRows(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const cell = (v: unknown): string => (v === null || v === undefined ? '' : Array.isArray(v) ? v.join(' ') : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => cell(r[c])))}\n`);
}

/** Reads a whole stream (stdin) into a Buffer, refusing more than `limit` bytes. */
export async function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > limit) throw new CliError(`input larger than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** An error meant for the user: printed without a stack, exit code 1 (or `code`). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
