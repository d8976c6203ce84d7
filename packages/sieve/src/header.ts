/** Header values as the tests compare them: RFC 2047 encoded words decoded (RFC 5228 §2.7.2). */
import { decodeEncodedWords } from '@postern/mime';

export function decodeHeader(value: string): string {
  return decodeEncodedWords(value.trim());
}
