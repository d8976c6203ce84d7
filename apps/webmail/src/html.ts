/**
 * HTML built from templates: every interpolated value is escaped unless it is already `Html`
 * (the output of another template or of the mail sanitizer). This is the only way pages are
 * made, so a header, a subject or a file name from a message can never become markup.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for element content and for quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** Tagged template: html`<p>${text}</p>` escapes `text`; nested html`` stays markup. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + (strings[i + 1] ?? '');
  return new Html(out);
}

/**
 * Unicode's explicit direction controls (UAX #9 §2: embeddings, overrides, isolates, the marks and
 * ALM). In a name they only serve to disguise it: U+202E shows "invoice\u202Efdp.exe" as
 * "invoiceexe.pdf".
 */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The name with each direction control it hides shown as a visible marker, e.g. "[U+202E]". */
export function plainName(name: string): string {
  return name.replace(BIDI_CONTROLS, (c) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

/**
 * A file or folder name on a page: its direction controls made visible (plainName) and the whole
 * isolated (<bdi>, UAX #9 §2.7), so that neither it nor right-to-left text in it reorders what
 * stands around it.
 */
export function isolatedName(name: string): Html {
  return html`<bdi>${plainName(name)}</bdi>`;
}

/** Marks trusted markup (our sanitizer's output). Never pass text from a message here. */
export function trusted(markup: string): Html {
  return new Html(markup);
}
