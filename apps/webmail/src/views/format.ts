/** Small formatting helpers shared by the views. */
import { html, type Html } from '../html.js';
import type { Address } from '../mail/account.js';

export function shortDate(d: Date | null, now = new Date()): string {
  if (!d) return '';
  const iso = d.toISOString();
  if (iso.slice(0, 10) === now.toISOString().slice(0, 10)) return iso.slice(11, 16);
  if (iso.slice(0, 4) === now.toISOString().slice(0, 4)) {
    return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
  }
  return iso.slice(0, 10);
}

/** A <time> the page script re-renders in the reader's own time zone. */
export function timeTag(d: Date | null, long = false): Html {
  if (!d) return html``;
  const text = long ? d.toUTCString() : shortDate(d);
  return html`<time datetime="${d.toISOString()}" data-format="${long ? 'long' : 'short'}">${text}</time>`;
}

export function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.max(1, Math.round(n / 1024))} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

export function displayName(list: readonly Address[]): string {
  if (list.length === 0) return '(nobody)';
  return list.map((a) => a.name || a.address).join(', ');
}

export function addressList(list: readonly Address[]): Html {
  return html`${list.map((a, i) => html`${i > 0 ? ', ' : ''}${a.name ? html`<span class="name">${a.name}</span> <span class="addr">&lt;${a.address}&gt;</span>` : html`<span class="addr">${a.address}</span>`}`)}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}
