// The soak's samples as one SVG (no dependency: a few polylines on axes): four panels over time,
// RSS per app, open descriptors per app, mail.db / queue.db and their WAL files, and the delay
// from 250 to stored (p50, p99) with the queue length.
const W = 900;
const PANEL_H = 180;
const PAD = { left: 70, right: 170, top: 34, bottom: 28 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** One panel: `series` is [{ name, points: [[t, v]] }]. */
function panel(y0, title, unit, series, tMax) {
  const h = PANEL_H - PAD.top - PAD.bottom;
  const w = W - PAD.left - PAD.right;
  const vMax = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map(([, v]) => v ?? 0))));
  const x = (t) => PAD.left + (t / tMax) * w;
  const y = (v) => y0 + PAD.top + h - (v / vMax) * h;
  const out = [`<text x="${PAD.left}" y="${y0 + 20}" font-size="13" font-weight="bold">${esc(title)}</text>`];
  out.push(`<rect x="${PAD.left}" y="${y0 + PAD.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (vMax * i) / 4;
    out.push(`<line x1="${PAD.left}" x2="${PAD.left + w}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${esc(+v.toFixed(2))}${unit}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const t = (tMax * i) / 5;
    out.push(`<text x="${x(t)}" y="${y0 + PAD.top + h + 14}" font-size="10" text-anchor="middle">${(t / 60).toFixed(1)} min</text>`);
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`)
      .join(' ');
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts}"/>`);
    out.push(`<text x="${PAD.left + w + 10}" y="${y0 + PAD.top + 12 + i * 14}" font-size="11" fill="${color}">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

export function plotSvg(samples, { title }) {
  const tMax = Math.max(1, ...samples.map((s) => s.t_s));
  const apps = [...new Set(samples.flatMap((s) => Object.keys(s.apps)))];
  const mb = (b) => b / 2 ** 20;
  const panels = [
    ['RSS per app', ' MB', apps.map((a) => ({ name: a, points: samples.map((s) => [s.t_s, s.apps[a] ? mb(s.apps[a].rss) : null]) }))],
    ['open file descriptors per app', '', apps.map((a) => ({ name: a, points: samples.map((s) => [s.t_s, s.apps[a]?.fds ?? null]) }))],
    [
      'database files',
      ' MB',
      [
        { name: 'mail.db', points: samples.map((s) => [s.t_s, mb(s.mail_db)]) },
        { name: 'mail.db-wal', points: samples.map((s) => [s.t_s, mb(s.mail_wal)]) },
        { name: 'queue.db', points: samples.map((s) => [s.t_s, mb(s.queue_db)]) },
        { name: 'queue.db-wal', points: samples.map((s) => [s.t_s, mb(s.queue_wal)]) },
        { name: 'live messages', points: samples.map((s) => [s.t_s, mb(s.message_bytes)]) },
      ],
    ],
    [
      '250 to stored, per sample',
      ' ms',
      [
        { name: 'p50', points: samples.map((s) => [s.t_s, s.delay_p50_ms]) },
        { name: 'p99', points: samples.map((s) => [s.t_s, s.delay_p99_ms]) },
        { name: 'queue length', points: samples.map((s) => [s.t_s, s.queue]) },
      ],
    ],
  ];
  const H = 30 + panels.length * PANEL_H;
  const body = panels.map(([t, u, series], i) => panel(30 + i * PANEL_H, t, u, series, tMax)).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<title>${esc(title)}</title>
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${PAD.left}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>
${body}
</svg>
`;
}
