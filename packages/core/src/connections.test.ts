import { describe, expect, it } from 'vitest';
import { ConnectionCounter, connectionCaps, subnetOf } from './connections.js';
import { DeadlineClock } from './deadlines.js';

describe('subnetOf', () => {
  it('is the /24 of an IPv4 address (also IPv4-mapped) and the /64 of an IPv6 one', () => {
    expect(subnetOf('192.0.2.77')).toBe('192.0.2');
    expect(subnetOf('::ffff:192.0.2.77')).toBe('192.0.2');
    expect(subnetOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2');
    expect(subnetOf('2001:0db8:0001:0002::1')).toBe('2001:db8:1:2');
    expect(subnetOf('2001:db8::1')).toBe('2001:db8:0:0');
    expect(subnetOf('::1')).toBe('0:0:0:0');
    expect(subnetOf('fe80::1%eth0')).toBe('fe80:0:0:0');
  });
});

describe('ConnectionCounter', () => {
  const caps = connectionCaps({ connections_per_ip: 2, connections_per_subnet: 3, connections_total: 10, connections_unauthenticated_percent: 50 });

  it('counts per address, per network, in total and not logged in', () => {
    const c = new ConnectionCounter(caps);
    expect(c.admit('192.0.2.1', 0).ok).toBe(true);
    expect(c.admit('192.0.2.1', 0).ok).toBe(true);
    expect(c.admit('192.0.2.1', 0)).toEqual({ ok: false, reason: 'per-ip' });
    const third = c.admit('192.0.2.2', 0);
    expect(third.ok).toBe(true);
    expect(c.admit('192.0.2.3', 0)).toEqual({ ok: false, reason: 'per-subnet' });
    expect(c.admit('198.51.100.1', 5)).toEqual({ ok: false, reason: 'unauthenticated' });
    if (third.ok) third.release();
    if (third.ok) third.release(); // idempotent
    expect(c.admit('192.0.2.3', 0).ok).toBe(true);
  });

  it('keeps no slots where no one logs in, and a network never below one address', () => {
    expect(
      connectionCaps({ connections_per_ip: 20, connections_per_subnet: 5, connections_total: 10, connections_unauthenticated_percent: 80 }, false),
    ).toEqual({
      perIp: 20,
      perSubnet: 20,
      total: 10,
      unauthenticated: 10,
    });
  });
});

describe('DeadlineClock', () => {
  const d = { command: 100, data: 300, session: 1000 };

  it('a phase that does not change expires at its deadline; a new command starts over', () => {
    const c = new DeadlineClock(d, 0);
    expect(c.check('command', 0, 50)).toBeNull();
    expect(c.check('command', 0, 101)).toBe('command');
    expect(c.check('command', 1, 150)).toBeNull();
    expect(c.check('data', 1, 200)).toBeNull();
    expect(c.check('data', 1, 450)).toBeNull();
    expect(c.check('data', 1, 501)).toBe('data');
  });

  it('never while busy or free; the session counts from the opening', () => {
    const c = new DeadlineClock(d, 0);
    expect(c.check('busy', 0, 5000)).toBeNull();
    expect(c.check('free', 0, 6000)).toBeNull();
    expect(c.check('command', 1, 6001)).toBe('session');
  });
});
