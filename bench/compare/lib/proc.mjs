// What a set of processes costs, read from /proc (Linux): CPU seconds (user + system, children
// that were waited for included) and memory, summed over a process and all its descendants. Memory
// is PSS (proportional set size: a page shared by k processes counts 1/k in each), so a system of
// many processes sharing libraries (Postfix's smtpd, Dovecot's lmtp) is not counted many times
// over; for one process PSS is close to RSS. A sampler keeps the peak of the sum while a load runs.
import { readdirSync, readFileSync } from 'node:fs';

const TICK = 100; // USER_HZ on Linux

function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after the name start at field 3 (state): ppid is 4, utime 14, stime 15, cutime 16, cstime 17
    return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK };
  } catch {
    return null;
  }
}

function pssOf(pid) {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0; // gone meanwhile
  }
}

/** Every live pid in the trees rooted at `roots` (the roots included). */
export function treeOf(roots) {
  const parent = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(name);
    if (s) parent.set(Number(name), s.ppid);
  }
  const want = new Set(roots.filter((r) => parent.has(r)));
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!want.has(pid) && want.has(ppid)) {
        want.add(pid);
        grew = true;
      }
    }
  }
  return [...want];
}

/** CPU seconds used so far by the trees rooted at `roots`. */
export function cpuSeconds(roots) {
  let total = 0;
  for (const pid of treeOf(roots)) total += stat(pid)?.cpu ?? 0;
  return total;
}

export function memoryBytes(roots) {
  let total = 0;
  for (const pid of treeOf(roots)) total += pssOf(pid);
  return total;
}

/** Samples the summed PSS of each named group every `everyMs`; `stop()` returns the peaks. */
export function sampleMemory(groups, everyMs = 200) {
  const peak = Object.fromEntries(Object.keys(groups).map((k) => [k, 0]));
  const tick = () => {
    for (const [k, roots] of Object.entries(groups)) peak[k] = Math.max(peak[k], memoryBytes(roots()));
  };
  tick();
  const t = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(t);
      tick();
      return peak;
    },
  };
}
