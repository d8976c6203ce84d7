/**
 * SASL PLAIN (RFC 4616) as POP3 carries it (RFC 5034): base64 of
 * `authzid NUL authcid NUL passwd`. Pure.
 */

export type PlainCredentials = { authcid: string; password: string };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a PLAIN response; `=` stands for an empty one (RFC 5034 §4). Returns a reason string
 * when it is not well-formed. An authzid other than the authcid (acting for another user) is
 * refused: we have no administrators who may do that.
 */
export function decodePlain(response: string): PlainCredentials | { error: string } {
  const text = response === '=' ? '' : response;
  if (!BASE64.test(text)) return { error: 'invalid base64' };
  const parts = Buffer.from(text, 'base64').toString('utf8').split('\0');
  if (parts.length !== 3) return { error: 'malformed PLAIN response' };
  const [authzid, authcid, password] = parts as [string, string, string];
  if (authcid === '' || password === '') return { error: 'malformed PLAIN response' };
  if (authzid !== '' && authzid.toLowerCase() !== authcid.toLowerCase()) return { error: 'authorization identity not allowed' };
  return { authcid, password };
}
