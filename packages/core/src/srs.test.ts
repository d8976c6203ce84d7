import { describe, expect, it } from 'vitest';
import { Srs, SrsError } from './srs.js';

const secret = Buffer.from('a secret of thirty-two characters!!');

describe('SRS', () => {
  it('SRS0 forward and reverse, case-insensitively', () => {
    const srs = new Srs({ secret });
    const f = srs.forward('alice@origin.example', 'fwd.example');
    expect(f).toMatch(/^SRS0=[a-z2-7]{4}=[a-z2-7]{2}=origin\.example=alice@fwd\.example$/);
    const local = f.slice(0, f.lastIndexOf('@'));
    expect(srs.reverse(local)).toBe('alice@origin.example');
    expect(srs.reverse(local.toUpperCase())).toBe('ALICE@ORIGIN.EXAMPLE');
    expect(srs.forward('', 'fwd.example')).toBe('');
  });

  it('refuses forged and expired addresses', () => {
    let now = Date.UTC(2026, 0, 1);
    const srs = new Srs({ secret, now: () => now });
    const local = srs.forward('bob@origin.example', 'fwd.example').split('@')[0]!;
    expect(() => srs.reverse(local.replace('=origin.', '=other.'))).toThrow(SrsError);
    expect(() => new Srs({ secret: Buffer.from('another secret, also long enough') }).reverse(local)).toThrow(/does not verify/);
    now += 22 * 86_400_000;
    expect(() => srs.reverse(local)).toThrow(/expired/);
    expect(() => srs.reverse('plain')).toThrow(/not an SRS address/);
  });

  it("SRS1 when forwarding someone else's SRS0, reversed to their SRS0", () => {
    const first = new Srs({ secret: Buffer.from('the first forwarder has its own secret') });
    const srs0 = first.forward('carol@origin.example', 'first.example');
    const srs = new Srs({ secret });
    const srs1 = srs.forward(srs0, 'fwd.example');
    expect(srs1).toMatch(/^SRS1=[a-z2-7]{4}=first\.example==/);
    expect(srs.reverse(srs1.split('@')[0]!)).toBe(srs0.replace(/^SRS0=/, 'SRS0='));
    expect(first.reverse(srs.reverse(srs1.split('@')[0]!).split('@')[0]!)).toBe('carol@origin.example');
  });
});
