import { describe, expect, it } from 'vitest';
import { chi2Q, classify, combine, tokenProbability } from './classify.js';
import { MemoryTraining } from './memory.js';
import { DEFAULT_TOKEN_LIMITS, tokenize } from './tokenize.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'));

describe('chi2Q and combine', () => {
  it('chi2Q is the chi-square survival function for even degrees of freedom', () => {
    expect(chi2Q(0, 2)).toBe(1);
    // P(X >= 10 | 10 df) = 0.44049 (tables); P(X >= 2 | 2 df) = e^-1
    expect(chi2Q(10, 10)).toBeCloseTo(0.44049, 4);
    expect(chi2Q(2, 2)).toBeCloseTo(Math.exp(-1), 10);
  });

  it('combine: no clues is 0.5, agreeing clues go to their end, disagreeing ones stay unsure', () => {
    expect(combine([])).toBe(0.5);
    expect(combine([0.99, 0.98, 0.97, 0.99])).toBeGreaterThan(0.99);
    expect(combine([0.01, 0.02, 0.03, 0.01])).toBeLessThan(0.01);
    const mixed = combine([0.99, 0.99, 0.99, 0.01, 0.01, 0.01]);
    expect(mixed).toBeGreaterThan(0.4);
    expect(mixed).toBeLessThan(0.6);
  });

  it("Robinson's f(w) pulls a rare token towards 0.5", () => {
    const totals = { spam: 100, ham: 100 };
    expect(tokenProbability({ spam: 1, ham: 0 }, totals, 0.45)).toBeCloseTo((0.45 * 0.5 + 1) / 1.45, 10);
    expect(tokenProbability({ spam: 50, ham: 0 }, totals, 0.45)).toBeGreaterThan(0.99);
    expect(tokenProbability({ spam: 0, ham: 0 }, totals, 0.45)).toBe(0.5);
  });
});

describe('training and classifying', () => {
  const spam = (i: number): Buffer =>
    crlf(`From: Deals <deals${i}@cheap-pills.example>\nSubject: CHEAP pills, order now ${i}\n\nBuy cheap pills at http://www.cheap-pills.example/order now!\n`);
  const ham = (i: number): Buffer =>
    crlf(`From: Carol <carol@work.example>\nSubject: agenda for the meeting ${i}\n\nHere are the notes from the planning meeting; see you on Tuesday.\n`);

  it('learns from both sides and explains the verdict with its clues', () => {
    const t = new MemoryTraining();
    for (let i = 0; i < 10; i++) {
      t.learn(tokenize(spam(i)), true);
      t.learn(tokenize(ham(i)), false);
    }
    const s = tokenize(spam(99));
    const v = classify(s, t.counts(s));
    expect(v.score).toBeGreaterThan(0.9);
    expect(v.clues.map((c) => c.token)).toContain('url:cheap-pills.example');
    const h = tokenize(ham(99));
    expect(classify(h, t.counts(h)).score).toBeLessThan(0.1);
    expect(v.trained).toEqual({ spam: 10, ham: 10 });
  });

  it('untraining takes back exactly what training added (a retrained message is not counted twice)', () => {
    const t = new MemoryTraining();
    const tokens = tokenize(spam(1));
    t.learn(tokens, true);
    t.learn(tokens, true, -1);
    expect(t.size).toBe(0);
    expect(t.totals).toEqual({ spam: 0, ham: 0 });
    // untraining what was never trained leaves nothing below zero
    t.learn(tokens, false, -1);
    expect(t.totals).toEqual({ spam: 0, ham: 0 });
    expect(t.size).toBe(0);
  });
});

describe('tokenize', () => {
  it('tags header words with their field, keeps URL hosts with each suffix, attachments by type and extension', () => {
    const raw = crlf(
      [
        'From: "Big Winner" <promo@mail.lottery.example>',
        'Subject: =?utf-8?q?You_won=21?=',
        'Authentication-Results: mx.postern.test; spf=fail smtp.mailfrom=lottery.example; dmarc=none',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary=b',
        '',
        '--b',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<html><body><font color="#ff0000">Claim at <a href="http://claim.lottery.example/now">here</a></font>',
        '<div style="display:none">hidden words</div></body></html>',
        '--b',
        'Content-Type: application/octet-stream; name="prize.exe"',
        'Content-Disposition: attachment; filename="prize.exe"',
        'Content-Transfer-Encoding: base64',
        '',
        'TVqQAAMAAAAEAAAA',
        '--b--',
        '',
      ].join('\n'),
    );
    const tokens = new Set(tokenize(raw));
    for (const t of [
      'subject:won!',
      'from:name:big',
      'from:domain:lottery.example',
      'from:domain:example',
      'auth:spf=fail',
      'auth:dmarc=none',
      'html:font',
      'html:href:claim.lottery.example',
      'html:hidden-text',
      'mime:html-only',
      'attach:application/octet-stream',
      'attach:ext:exe',
      'claim',
    ]) {
      expect(tokens, t).toContain(t);
    }
  });

  it('long runs are one skip token, not one token each', () => {
    const raw = crlf(`Subject: x\n\n${'a1b2c3d4e5f6g7h8i9j0'} ${'zzzzzzzzzzzzzzzzzzzzzzzzzzzzz'}\n`);
    const tokens = tokenize(raw);
    expect(tokens).toContain('skip:a 20');
    expect(tokens).toContain('skip:z 20');
  });

  it('a message of 100,000 distinct words or 25 MB keeps at most maxTokens tokens', () => {
    const words = Array.from({ length: 100_000 }, (_, i) => `w${i.toString(36)}x`).join(' ');
    expect(tokenize(crlf(`Subject: many\n\n${words}\n`)).length).toBeLessThanOrEqual(DEFAULT_TOKEN_LIMITS.maxTokens);
    const big = Buffer.concat([crlf('Subject: big\nContent-Type: text/html\n\n'), Buffer.alloc(25 * 1024 * 1024, '<b>spam ')]);
    const tokens = tokenize(big);
    expect(tokens.length).toBeLessThanOrEqual(DEFAULT_TOKEN_LIMITS.maxTokens);
    expect(tokens).toContain('html:b');
  });

  it('deep MIME nesting is read without failing', () => {
    let body = 'Content-Type: text/plain\n\ninnermost words\n';
    for (let i = 0; i < 60; i++) body = `Content-Type: multipart/mixed; boundary=b${i}\n\n--b${i}\n${body}--b${i}--\n`;
    expect(() => tokenize(crlf(`Subject: deep\n${body}`))).not.toThrow();
  });
});
