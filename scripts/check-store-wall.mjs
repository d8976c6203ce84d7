#!/usr/bin/env node
/**
 * The store wall (issue 16): mail.db has one owner, packages/core's store, and the apps only call
 * its interface. `npm run lint` runs this check over apps/ (sources, tests, scripts) and fails on
 * - a `.db` property (a database handle reached for),
 * - a call of `prepare(...)` or `transaction(...)` (a statement or transaction opened),
 * - a string or template that reads as SQL (SELECT ... FROM, INSERT INTO, UPDATE ... SET,
 *   DELETE FROM, CREATE TABLE/INDEX, PRAGMA).
 * It parses the code (TypeScript's own parser), so comments and IMAP commands such as
 * `a SELECT INBOX` pass. Biome keeps the better-sqlite3 import out of the apps (biome.jsonc).
 *
 * Usage: node scripts/check-store-wall.mjs [dir...]   (default: apps)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = new URL('..', import.meta.url).pathname;
const dirs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [join(root, 'apps')];
const EXTENSIONS = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
const SKIP = new Set(['node_modules', 'dist', 'coverage']);
const CALLS = new Set(['prepare', 'transaction']);
// SQL as Postern writes it: keywords in capitals, on one line
const SQL =
  /\bSELECT\s+[\w*(). ,']+?\s+FROM\s+\w|\bINSERT\s+(OR\s+\w+\s+)?INTO\s+\w|\bUPDATE\s+\w+\s+SET\s|\bDELETE\s+FROM\s+\w|\bCREATE\s+(TABLE|INDEX|VIRTUAL\s+TABLE|UNIQUE\s+INDEX)\b|\bPRAGMA\s+\w/;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (EXTENSIONS.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

function check(path) {
  const text = readFileSync(path, 'utf8');
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found = [];
  const at = (node, what) => {
    const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source));
    found.push(`${relative(root, path)}:${line + 1}:${character + 1}: ${what}`);
  };
  const visit = (node) => {
    if (ts.isPropertyAccessExpression(node) && node.name.text === 'db') at(node, '`.db`: a database handle outside the store');
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : null;
      if (name !== null && CALLS.has(name)) at(node, `\`${name}(\`: SQL statements and transactions belong to the store`);
    }
    if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      if (SQL.test(node.text)) at(node, 'SQL text: only the store speaks SQL');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const problems = [];
for (const dir of dirs) for (const path of files(dir)) problems.push(...check(path));
if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n\nThe apps call the message store's interface (packages/core/src/store/interface.ts); SQL stays inside it.\n`);
  process.exit(1);
}
