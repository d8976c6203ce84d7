/**
 * A minimal browser for the webmail, made of curl inside a host: a cookie jar, GET a page, read
 * the form on it the way a browser would (every named input, the textarea, hidden fields such
 * as the CSRF token), change some fields, and submit it with the button the user pressed. It
 * sends an Origin header as browsers do for form posts, so the webmail's same-origin check runs.
 */
import { join } from 'node:path';
import type { Network } from './netns.js';

export interface Page {
  status: number;
  /** Where a redirect points ('' when none). */
  location: string;
  html: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function attr(tag: string, name: string): string | null {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  return m ? decode(m[1] ?? m[2] ?? m[3] ?? '') : null;
}

/** The fields a browser would submit from the form whose action is `action` (buttons excluded,
 * unchecked checkboxes excluded, file inputs empty). */
export function formFields(html: string, action: string): Map<string, string[]> {
  const forms = [...html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)].map((m) => m[0]);
  const form = forms.find((f) => attr(f.slice(0, f.indexOf('>') + 1), 'action') === action);
  if (!form) throw new Error(`no form with action ${action} on the page:\n${html.slice(0, 2000)}`);
  const out = new Map<string, string[]>();
  const add = (name: string, value: string): void => void out.set(name, [...(out.get(name) ?? []), value]);
  for (const [tag] of form.matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(tag, 'name');
    const type = (attr(tag, 'type') ?? 'text').toLowerCase();
    if (!name || type === 'file' || type === 'submit') continue;
    if ((type === 'checkbox' || type === 'radio') && !/\schecked\b/i.test(tag)) continue;
    add(name, attr(tag, 'value') ?? '');
  }
  for (const m of form.matchAll(/<textarea\b([^>]*)>([\s\S]*?)<\/textarea>/gi)) {
    const name = attr(`<textarea${m[1]}>`, 'name');
    // HTML §13.2.6.4.7: a newline right after the start tag is not part of the value
    if (name) add(name, decode(m[2]!.replace(/^\r?\n/, '')));
  }
  return out;
}

export class Browser {
  private readonly jar: string;

  constructor(
    private readonly net: Network,
    private readonly host: string,
    /** e.g. "http://127.0.0.1:8080" */
    private readonly origin: string,
    name: string,
  ) {
    this.jar = join(net.dir, `${name}.cookies`);
  }

  private async curl(args: string[]): Promise<Page> {
    const r = await this.net.runOk(
      this.host,
      'curl',
      [
        '--silent',
        '--show-error',
        '--max-time',
        '60',
        '--cookie',
        this.jar,
        '--cookie-jar',
        this.jar,
        '--write-out',
        '\n%{http_code} %{redirect_url}',
        ...args,
      ],
      { timeoutMs: 70_000 },
    );
    const text = r.stdout.toString('utf8');
    const cut = text.lastIndexOf('\n');
    const [status, location] = text.slice(cut + 1).split(' ');
    return { status: Number(status), location: location ?? '', html: text.slice(0, cut) };
  }

  get(path: string): Promise<Page> {
    return this.curl([`${this.origin}${path}`]);
  }

  /** Submits the form found on `page` (action `action`) with `changes` applied, as
   * multipart/form-data; `button` is the [name, value] of the submit button pressed. */
  submit(page: Page, action: string, changes: Record<string, string>, button?: [string, string]): Promise<Page> {
    const fields = formFields(page.html, action);
    for (const [k, v] of Object.entries(changes)) fields.set(k, [v]);
    if (button) fields.set(button[0], [button[1]]);
    // --form-string: the value is taken literally (no @file or <file meaning)
    const args = [...fields].flatMap(([k, vs]) => vs.flatMap((v) => ['--form-string', `${k}=${v}`]));
    return this.curl(['--header', `Origin: ${this.origin}`, ...args, `${this.origin}${action}`]);
  }
}
