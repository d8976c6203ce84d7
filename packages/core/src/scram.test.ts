import { describe, expect, it } from 'vitest';
import { parseScramKeys, ScramError, ScramServer, scramKeysFor } from './scram.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('SCRAM-SHA-256 (server)', () => {
  it("answers RFC 7677 §3's example exchange", () => {
    const keys = parseScramKeys(scramKeysFor('pencil', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64')))!;
    const s = new ScramServer(false, null, '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
    expect(s.start('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')).toBe('user');
    expect(s.challenge(keys)).toBe('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    expect(s.finish('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', true)).toBe(
      'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    );
  });

  it('refuses a wrong proof, an unknown user, a downgrade and a binding it cannot check', () => {
    const keys = parseScramKeys(scramKeysFor('pencil', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64')))!;
    const final = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
    const run = (known: boolean, proofFinal = final): string => {
      const s = new ScramServer(false, null, '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
      s.start('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
      s.challenge(keys);
      return s.finish(proofFinal, known);
    };
    expect(() => run(false)).toThrow(ScramError);
    expect(() => run(true, final.replace('p=dH', 'p=eH'))).toThrow(ScramError);
    expect(() => new ScramServer(false, { 'tls-exporter': Buffer.alloc(32) }).start('y,,n=user,r=abc')).toThrow(/downgrade/);
    expect(() => new ScramServer(true, {}).start('p=tls-exporter,,n=user,r=abc')).toThrow(/not available/);
    expect(() => new ScramServer(false, null).start('n,a=admin,n=user,r=abc')).toThrow(ScramError);
    // an unknown user is offered the same salt each time (the exchange does not tell)
    const decoy = (): string => {
      const s = new ScramServer(false, null, 'x');
      s.start(`n,,n=${b64('nobody').slice(0, 6)},r=abc`);
      return s.challenge(null);
    };
    expect(decoy()).toBe(decoy());
  });
});
