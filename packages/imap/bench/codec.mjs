// Prints throughput numbers for the codec (no assertions). Run after a build:
//   cd packages/imap && npx tsc -p tsconfig.json && node bench/codec.mjs
import { ImapFramer, parseCommand, fetchResponse, resolveSequenceSet, compactSequenceSet } from '../dist/index.js';

function time(label, n, fn) {
  fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`${label}: ${(n / (ms / 1000)).toFixed(0)} ops/s (${((ms / n) * 1000).toFixed(2)} µs/op)`);
}

const framer = new ImapFramer();
const frame = (text) => {
  framer.push(Buffer.from(text));
  const ev = framer.next();
  if (ev?.kind !== 'command') throw new Error('no command');
  return ev.unit;
};

const simple = 'A1 UID FETCH 1:* (FLAGS)\r\n';
time('frame+parse  UID FETCH 1:* (FLAGS)', 200_000, () => parseCommand(frame(simple)));
const tb =
  'A2 UID fetch 42:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n';
time('frame+parse  Thunderbird header FETCH', 100_000, () => parseCommand(frame(tb)));
const search = 'A3 UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 OR (FROM alice SUBJECT "quarterly report") NOT (SEEN DELETED) SINCE 1-Feb-2024 1:*\r\n';
time('frame+parse  nested SEARCH', 100_000, () => parseCommand(frame(search)));

const big = Buffer.alloc(50 * 1024 * 1024, 0x61);
{
  const f = new ImapFramer({ maxLiteralSize: 64 * 1024 * 1024 });
  const t0 = process.hrtime.bigint();
  f.push(Buffer.from(`A4 APPEND INBOX {${big.length}+}\r\n`));
  let cmd = null;
  for (let off = 0; off < big.length; off += 65536) {
    f.push(big.subarray(off, off + 65536));
    for (let ev = f.next(); ev; ev = f.next()) if (ev.kind === 'command') cmd = ev.unit;
  }
  f.push(Buffer.from('\r\n'));
  for (let ev = f.next(); ev; ev = f.next()) if (ev.kind === 'command') cmd = ev.unit;
  parseCommand(cmd);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`frame+parse  50 MiB APPEND in 64 KiB chunks: ${ms.toFixed(0)} ms (${(50 / (ms / 1000)).toFixed(0)} MiB/s)`);
}

{
  const flags = ['\\Seen', '\\Answered'];
  const env =
    '("Mon, 1 Jan 2024 10:00:00 +0000" "Hello" (("Alice" NIL "alice" "example.org")) NIL NIL (("Bob" NIL "bob" "example.org")) NIL NIL NIL "<1@example.org>")';
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 1; i <= 100_000; i++) {
    for (const b of fetchResponse(i, [
      { kind: 'UID', value: i },
      { kind: 'FLAGS', flags },
      { kind: 'ENVELOPE', value: env },
    ]))
      bytes += b.length;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`serialize    100,000 x FETCH (UID FLAGS ENVELOPE): ${ms.toFixed(0)} ms, ${(bytes / 1e6).toFixed(1)} MB`);
}

{
  const set = parseCommand(frame('A5 UID FETCH 1:*,5,9:20 (FLAGS)\r\n')).set;
  time('resolve      1:*,5,9:20 against 100,000', 1_000_000, () => resolveSequenceSet(set, 100_000));
  const uids = Array.from({ length: 100_000 }, (_, i) => i * 2 + 1);
  time('compact      100,000 odd UIDs', 20, () => compactSequenceSet(uids));
}
