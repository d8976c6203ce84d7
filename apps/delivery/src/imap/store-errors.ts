/** StoreError codes are IMAP response codes (RFC 5530); anything else is not ours to explain. */
import { StoreError } from '@postern/core';
import type { ResponseCode } from '@postern/imap';
import { ImapError } from './reply.js';

/** Runs a store call, turning a StoreError into `NO [CODE]`. */
export async function storeCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof StoreError) throw new ImapError('NO', e.message, { code: e.code } as ResponseCode);
    throw e;
  }
}
