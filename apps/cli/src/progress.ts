/**
 * Progress of a long command (import, export, backup, restore): a bar per folder on a terminal
 * (cli-progress: messages, bytes, rate, time left), plain lines otherwise (a log, a pipe, cron),
 * so a script's output stays readable. Always on stderr: stdout is for the command's result.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  folderStart(name: string, count: number, bytes: number): void;
  advance(messages: number, bytes: number): void;
  folderEnd(): void;
  note(text: string): void;
  stop(): void;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Plain lines: one when a folder starts, one every `every` messages, one when it ends. */
class LineProgress implements Progress {
  private name = '';
  private count = 0;
  private done = 0;
  private bytes = 0;
  private lastLine = 0;
  private started = 0;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly every = 1000,
  ) {}

  folderStart(name: string, count: number, bytes: number): void {
    this.name = name;
    this.count = count;
    this.done = 0;
    this.bytes = 0;
    this.lastLine = 0;
    this.started = Date.now();
    this.out.write(`${name}: ${count} messages, ${formatBytes(bytes)}\n`);
  }

  advance(messages: number, bytes: number): void {
    this.done += messages;
    this.bytes += bytes;
    if (this.done - this.lastLine >= this.every && this.done < this.count) {
      this.lastLine = this.done;
      this.out.write(`${this.name}: ${this.done}/${this.count} messages, ${formatBytes(this.bytes)}\n`);
    }
  }

  folderEnd(): void {
    const s = Math.max(0.001, (Date.now() - this.started) / 1000);
    this.out.write(`${this.name}: done, ${this.done} messages, ${formatBytes(this.bytes)} in ${s.toFixed(1)} s\n`);
  }

  note(text: string): void {
    this.out.write(`${text}\n`);
  }

  stop(): void {}
}

class BarProgress implements Progress {
  private bar: cliProgress.SingleBar | null = null;
  private bytes = 0;
  private done = 0;
  private started = 0;

  folderStart(name: string, count: number, bytes: number): void {
    this.bar?.stop();
    this.bytes = 0;
    this.done = 0;
    this.started = Date.now();
    const total = formatBytes(bytes);
    this.bar = new cliProgress.SingleBar(
      {
        format: `${name.slice(0, 40).padEnd(40)} {bar} {value}/{total} msgs | {size}/${total} | {rate} msg/s | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(count, 0, { size: formatBytes(0), rate: '0' });
  }

  advance(messages: number, bytes: number): void {
    this.done += messages;
    this.bytes += bytes;
    const b = this.bar;
    if (!b) return;
    const elapsed = Math.max(0.001, (Date.now() - this.started) / 1000);
    b.update(this.done, { size: formatBytes(this.bytes), rate: (this.done / elapsed).toFixed(0) });
  }

  folderEnd(): void {
    this.bar?.stop();
    this.bar = null;
  }

  note(text: string): void {
    if (this.bar) this.bar.stop();
    process.stderr.write(`${text}\n`);
  }

  stop(): void {
    this.bar?.stop();
  }
}

/** A bar when stderr is a terminal, lines otherwise; `quiet` prints nothing. */
export function progressFor(quiet = false): Progress {
  if (quiet) {
    const none = (): void => {};
    return { folderStart: none, advance: none, folderEnd: none, note: none, stop: none };
  }
  return process.stderr.isTTY ? new BarProgress() : new LineProgress(process.stderr);
}

/** Progress through one stream of bytes (a backup being written or read): a bar on a terminal, one line at the end otherwise. */
export function bytesProgress(quiet: boolean, label: string): { tick(done: number, total: number): void; end(): void } {
  if (quiet) return { tick: () => {}, end: () => {} };
  const started = Date.now();
  let last = 0;
  let bar: cliProgress.SingleBar | null = null;
  return {
    tick(done, total) {
      last = done;
      if (!process.stderr.isTTY) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { format: `${label} {bar} {percentage}% | {size} of {all} | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { size: formatBytes(0), all: formatBytes(total) });
      }
      bar.update(done, { size: formatBytes(done) });
    },
    end() {
      bar?.stop();
      if (!process.stderr.isTTY && last > 0) process.stderr.write(`${label}: ${formatBytes(last)} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    },
  };
}
