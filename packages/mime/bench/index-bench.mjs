// Benchmark: prints how long indexMessage takes on a ~100 KB and a ~20 MB message.
// Run after building: `npx tsc -p tsconfig.json && node bench/index-bench.mjs`. Prints numbers, asserts nothing.
import { indexMessage } from '../dist/index.js';

function message(attachmentBytes, textParagraphs) {
  const att = Buffer.alloc(attachmentBytes);
  for (let i = 0; i < att.length; i++) att[i] = (i * 2654435761) >>> 24;
  const b64 = att.toString('base64').replace(/.{76}/g, '$&\r\n');
  const para = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.\r\n';
  const text = para.repeat(textParagraphs);
  const html = `<html><body>${text
    .split('\r\n')
    .map((l) => `<p>${l}</p>`)
    .join('\r\n')}</body></html>`;
  return Buffer.from(
    [
      'Received: from mx.example.net (mx.example.net [192.0.2.1]) by mail.example.org with ESMTPS id 4F2A; Mon, 4 Mar 2024 10:00:00 +0000',
      'From: "Jörg Müller" <joerg@example.net>',
      'To: Ann <ann@example.org>, =?utf-8?q?B=C3=B6b?= <bob@example.org>',
      'Subject: =?utf-8?q?Quarterly_r=C3=A9port?=',
      'Date: Mon, 4 Mar 2024 10:00:00 +0000',
      'Message-ID: <bench@example.net>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      '--outer',
      'Content-Type: multipart/alternative; boundary="alt"',
      '',
      '--alt',
      'Content-Type: text/plain; charset=utf-8',
      '',
      text,
      '--alt',
      'Content-Type: text/html; charset=utf-8',
      '',
      html,
      '--alt--',
      '--outer',
      'Content-Type: application/pdf; name="report.pdf"',
      'Content-Disposition: attachment; filename="report.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      b64,
      '--outer--',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

function bench(name, raw, iterations) {
  for (let i = 0; i < Math.min(20, iterations); i++) indexMessage(raw); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) indexMessage(raw);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / iterations;
  console.log(`${name}: ${(raw.length / 1024).toFixed(0)} KiB, ${ms.toFixed(3)} ms per message (${iterations} runs)`);
}

bench('100 KB message', message(60_000, 120), 2000);
bench('100 KB text-only message', message(0, 400), 2000);
bench('20 MB attachment message', message(15 * 1024 * 1024, 10), 20);

const sample = indexMessage(message(0, 400));
console.log(`(text-only sample: ${sample.parts.length} parts, ${Buffer.byteLength(sample.text)} bytes of indexed text)`);
