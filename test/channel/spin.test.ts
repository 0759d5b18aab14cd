// The adaptive spin policy, driven by hand: on while spins catch the peer,
// off after spins keep failing, probing while off, and a trial of spinning
// after a probe catches (so two sleeping ends can both start spinning again).
import { describe, expect, it } from "vitest";

import { ADAPTIVE_SPIN_US, AdaptiveSpin, FixedSpin, MAX_PROBE_US, MIN_PROBE_US, PROBE_EVERY, spinPolicy } from "../../dist/lib/channel/spin.js";

/** Runs n waits whose spins all catch (true) or all fail (false); returns the budgets given. */
function waits(p: AdaptiveSpin, n: number, caught: boolean): number[] {
  const budgets: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = p.budget();
    budgets.push(b);
    if (b > 0) p.record(caught ? 1 : b, caught);
  }
  return budgets;
}

describe("AdaptiveSpin", () => {
  it("spins while spins catch the peer, and a short burst of failures does not switch it off", () => {
    const p = new AdaptiveSpin(2);
    expect(waits(p, 100, true).every((b) => b === ADAPTIVE_SPIN_US)).toBe(true);
    expect(waits(p, 5, false).every((b) => b === ADAPTIVE_SPIN_US)).toBe(true);
    expect(p.budget()).toBe(ADAPTIVE_SPIN_US);
  });

  it("stops spinning when spins keep failing, then probes every PROBE_EVERY-th wait", () => {
    const p = new AdaptiveSpin(2);
    const budgets = waits(p, 200, false);
    const tail = budgets.slice(100);
    const probes = tail.filter((b) => b > 0);
    // One probe per PROBE_EVERY waits (the window may cut one at either end).
    expect(Math.abs(probes.length - 100 / PROBE_EVERY)).toBeLessThanOrEqual(1);
    expect(probes.every((b) => b >= MIN_PROBE_US && b <= MAX_PROBE_US)).toBe(true);
  });

  it("a probe that catches starts a trial of spinning long enough for the peer's own probe to find it", () => {
    const p = new AdaptiveSpin(2);
    waits(p, 200, false); // off
    let b = p.budget();
    while (b === 0) b = p.budget();
    p.record(30, true); // the probe caught
    const trial = waits(p, PROBE_EVERY + 1, false); // even if these fail...
    expect(trial.every((x) => x > 0)).toBe(true); // ...the trial spins through
  });

  it("probes long enough to catch a peer that sleeps too: 1.5x the usual sleeping wait, within bounds", () => {
    const p = new AdaptiveSpin(2);
    for (let i = 0; i < 100; i++) p.slept(120);
    waits(p, 200, false);
    let b = p.budget();
    while (b === 0) b = p.budget();
    expect(b).toBeCloseTo(180, 0);
    for (let i = 0; i < 100; i++) p.slept(10_000);
    expect(Math.max(...waits(p, 3 * PROBE_EVERY, false))).toBe(MAX_PROBE_US);
  });

  it("never spins with one core", () => {
    const p = new AdaptiveSpin(1);
    expect(waits(p, 100, true).every((b) => b === 0)).toBe(true);
  });

  it("spinPolicy: undefined and 'adaptive' adapt, a number is fixed", () => {
    expect(spinPolicy(undefined)).toBeInstanceOf(AdaptiveSpin);
    expect(spinPolicy("adaptive").kind).toBe("adaptive");
    const f = spinPolicy(7);
    expect(f).toBeInstanceOf(FixedSpin);
    expect(f.budget()).toBe(7);
  });
});
