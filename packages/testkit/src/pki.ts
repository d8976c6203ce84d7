/**
 * A private CA for tests, made with openssl(1): certificates for any names, signed by a root the
 * test then trusts, so verified TLS (MTA-STS, DANE-TA) is tested without the public roots.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandNeed, type Need } from './skips.js';

export function opensslNeed(): Need {
  return commandNeed('openssl');
}

export interface TestCa {
  /** The root certificate (PEM). */
  cert: string;
  /** A key and certificate for `names`, signed by the root (or self-signed with `selfSigned`). */
  issue(names: readonly string[], o?: { selfSigned?: boolean }): { key: string; cert: string };
  close(): void;
}

function openssl(args: readonly string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

export function createTestCa(name = 'Postern Test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'postern-ca-'));
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '30',
      '-subj',
      `/CN=${name}`,
    ],
    dir,
  );
  let n = 0;
  return {
    cert: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    issue(names, o = {}) {
      const id = `leaf${n++}`;
      const san = names.map((x) => `DNS:${x}`).join(',');
      writeFileSync(join(dir, `${id}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      if (o.selfSigned) {
        openssl(
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:P-256',
            '-nodes',
            '-keyout',
            `${id}.key`,
            '-out',
            `${id}.pem`,
            '-days',
            '30',
            '-subj',
            `/CN=${names[0]}`,
            '-addext',
            `subjectAltName=${san}`,
          ],
          dir,
        );
      } else {
        openssl(
          ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${id}.key`, '-out', `${id}.csr`, '-subj', `/CN=${names[0]}`],
          dir,
        );
        openssl(
          [
            'x509',
            '-req',
            '-in',
            `${id}.csr`,
            '-CA',
            'ca.pem',
            '-CAkey',
            'ca.key',
            '-CAcreateserial',
            '-out',
            `${id}.pem`,
            '-days',
            '30',
            '-extfile',
            `${id}.ext`,
          ],
          dir,
        );
      }
      return { key: readFileSync(join(dir, `${id}.key`), 'utf8'), cert: readFileSync(join(dir, `${id}.pem`), 'utf8') };
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
