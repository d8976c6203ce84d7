/**
 * core's DeadlineClock on an smtp-server connection: the phase is read from the connection
 * (a handler pending: busy; the parser in DATA mode: data; else waiting for a command) and every
 * command the parser hands over counts. When a deadline passes the client gets
 * `421 4.4.2 … timeout exceeded` (Postfix's words) and the connection closes.
 *
 * Leans on smtp-server internals that its .d.ts declares (`_onCommand`, `_handlerPending`,
 * `_parser._dataMode`); greeting.ts installs this on each connection.
 */
import { DeadlineClock, deadlineTick, type Deadlines, type Phase } from '@postern/core';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

export function watchDeadlines(connection: SMTPConnection, deadlines: Deadlines): void {
  const clock = new DeadlineClock(deadlines);
  let commands = 0;
  const onCommand = connection._onCommand.bind(connection);
  connection._onCommand = (command: Buffer, callback?: () => void): void => {
    commands++;
    onCommand(command, callback);
  };
  const phase = (): Phase => {
    if (connection._handlerPending) return 'busy';
    const parser = connection._parser;
    return parser && parser._dataMode ? 'data' : 'command';
  };
  const timer = setInterval(() => {
    const expired = clock.check(phase(), commands);
    if (!expired) return;
    clearInterval(timer);
    const what = expired === 'data' ? 'DATA' : expired === 'session' ? 'session' : 'command';
    connection.send(421, `4.4.2 ${connection.name} Error: ${what} timeout exceeded`);
  }, deadlineTick(deadlines));
  timer.unref();
  connection._socket.once('close', () => clearInterval(timer));
}
