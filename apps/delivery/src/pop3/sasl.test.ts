import { describe, expect, it } from 'vitest';
import { decodePlain } from './sasl.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('decodePlain', () => {
  it('takes authcid and password, with an empty or matching authzid', () => {
    expect(decodePlain(b64('\0a@b.c\0pw d'))).toEqual({ authcid: 'a@b.c', password: 'pw d' });
    expect(decodePlain(b64('A@b.c\0a@b.c\0pw'))).toEqual({ authcid: 'a@b.c', password: 'pw' });
  });

  it('refuses malformed responses and acting for someone else', () => {
    expect(decodePlain('=')).toEqual({ error: 'malformed PLAIN response' });
    expect(decodePlain('!!!')).toEqual({ error: 'invalid base64' });
    expect(decodePlain('YWJj=')).toEqual({ error: 'invalid base64' });
    expect(decodePlain(b64('a\0b'))).toEqual({ error: 'malformed PLAIN response' });
    expect(decodePlain(b64('\0a\0b\0c'))).toEqual({ error: 'malformed PLAIN response' });
    expect(decodePlain(b64('\0\0pw'))).toEqual({ error: 'malformed PLAIN response' });
    expect(decodePlain(b64('admin\0a@b.c\0pw'))).toEqual({ error: 'authorization identity not allowed' });
  });
});
