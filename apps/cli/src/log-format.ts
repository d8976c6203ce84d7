/**
 * Human-readable log lines for `postern start` in a terminal: the apps log one JSON object per
 * event (pino); a person watching wants `17:05:01 delivery INFO LMTP listening port=2424`.
 * Lines that are not JSON pass through unchanged. Not used when output goes to a file or a
 * journal, which keep the JSON.
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'app', 'name', 'msg', 'pid', 'hostname']);

export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof rec['time'] === 'string' ? rec['time'].slice(11, 19) : '';
  const level = LEVELS[rec['level'] as number] ?? String(rec['level']);
  const fields = Object.entries(rec)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => {
      if (k === 'err' && v && typeof v === 'object') return `err=${JSON.stringify((v as { message?: string }).message ?? v)}`;
      return `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`;
    })
    .join(' ');
  return `${time} ${String(rec['app'] ?? '').padEnd(10)} ${level.padEnd(5)} ${String(rec['msg'] ?? '')}${fields ? `  ${fields}` : ''}`;
}
