/**
 * `postern queue list [--json] | show ID | retry [ID] | delete ID`: what the mail queue
 * (queue.db) holds, like Postfix's mailq / postqueue / postsuper. Works while transfer runs.
 */
import type { Command } from 'commander';
import { QueueStore, type Config } from '@postern/core';
import { headerText } from '@postern/header';
import { CliError, configOf, printRows } from '../context.js';

function withQueue<T>(cmd: Command, fn: (q: QueueStore, config: Config) => T): T {
  const config = configOf(cmd);
  const q = QueueStore.open(config);
  try {
    return fn(q, config);
  } finally {
    q.close();
  }
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function register(program: Command): void {
  const queue = program.command('queue').description('inspect and manage the mail queue');
  queue
    .command('list')
    .description('messages waiting for delivery')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }, cmd: Command) =>
      withQueue(cmd, (q) => {
        const rows = q.list().map((m) => ({
          id: m.id,
          arrival: iso(m.arrival),
          size: m.size,
          sender: m.sender === '' ? '<>' : m.sender,
          recipients: m.recipients,
          attempts: m.attempts,
          next_attempt: iso(m.nextAttempt),
          last_error: m.lastError,
        }));
        printRows(rows, ['id', 'arrival', 'size', 'sender', 'recipients', 'attempts', 'next_attempt', 'last_error'], !!o.json);
      }),
    );
  queue
    .command('show <id>')
    .description("one message: its envelope, every recipient's state, and its header")
    .option('--json', 'print JSON')
    .action((id: string, o: { json?: boolean }, cmd: Command) =>
      withQueue(cmd, (q) => {
        const m = q.get(id);
        if (!m) throw new CliError(`no message ${id} in the queue`);
        const recipients = m.recipients.map((r) => ({
          address: r.address,
          state: r.state,
          attempts: r.attempts,
          next_attempt: r.state === 'queued' ? iso(r.nextAttempt) : null,
          last_error: r.lastError,
        }));
        const header = headerText(m.data);
        if (o.json) {
          const out = { id: m.id, sender: m.sender, arrival: iso(m.arrival), size: m.size, origin: m.origin, client: m.client, recipients, header };
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `id:       ${m.id}\nsender:   ${m.sender === '' ? '<>' : m.sender}\narrival:  ${iso(m.arrival)}\nsize:     ${m.size}\norigin:   ${m.origin} (${m.client})\n\n`,
        );
        printRows(recipients, ['address', 'state', 'attempts', 'next_attempt', 'last_error'], false);
        process.stdout.write(`\n${header}\n`);
      }),
    );
  queue
    .command('retry [id]')
    .description('try the message (or every message) again now')
    .action((id: string | undefined, _o, cmd: Command) =>
      withQueue(cmd, (q) => {
        if (id !== undefined && !q.get(id)) throw new CliError(`no message ${id} in the queue`);
        const n = q.retry(id);
        process.stdout.write(`${n} recipient(s) due now\n`);
      }),
    );
  queue
    .command('delete <id>')
    .description('remove a message from the queue without notifying anyone')
    .action((id: string, _o, cmd: Command) =>
      withQueue(cmd, (q) => {
        if (!q.remove(id)) throw new CliError(`no message ${id} in the queue`);
        process.stdout.write(`deleted ${id}\n`);
      }),
    );
}
