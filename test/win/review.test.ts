// Found by the adversarial review of the Windows port (branch win-review).
// Each case states what a user sees; those marked "known bug" are
// it.fails on the platforms where the bug is still there, so that the suite
// stays green and a fix flips them (vitest then reports the it.fails as
// failed: remove the marker).
import { afterEach, describe, expect, it } from "vitest";

import { Channel, Segment, WaitLine, Waiter, layout } from "../../dist/lib/index.js";
import { sleep } from "../helpers.js";

const open: { close(): void }[] = [];
function keep<T extends { close(): void }>(x: T): T {
  open.push(x);
  return x;
}
afterEach(() => {
  for (const x of open.splice(0).reverse()) {
    try {
      x.close();
    } catch {
      /* a waiter closed with its segment */
    }
  }
});

describe("wakeups (review)", () => {
  // Was a bug on Windows: FutexWake releases min(sleepers, 64): with 70
  // event-loop Waiters on one line one notify woke 64 and the other 6 slept
  // until their timeout (forever with Infinity). Linux wakes all 70
  // (FUTEX_WAKE(INT_MAX)). Now woken sleepers chain the rest in rounds of 64
  // (csrc/win32/futex_win.cc). 200 here: three full rounds and a partial one.
  it("one notify wakes 200 event-loop waiters of one line, not only 64", async () => {
    const seg = keep(Segment.create({ size: 4096 }));
    const line = new WaitLine(seg, layout.OFFSETS.reader_wait);
    const waiters = Array.from({ length: 200 }, () => keep(new Waiter(line, "futex")));
    const seq = line.prepare("futex");
    let ok = 0;
    const all = waiters.map((w) =>
      w.wait(seq, 60_000).then(
        (r) => void (r === "ok" && ok++),
        () => undefined, // closed by afterEach when the test failed
      ),
    );
    await sleep(300); // every waiter thread asleep
    line.notify();
    // Generous: under Wine 70 threads took ~10 ms; a missed wake would leave
    // some until their 60 s timeout, far beyond this.
    const deadline = performance.now() + 10_000;
    while (ok < 200 && performance.now() < deadline) await sleep(10);
    expect(ok).toBe(200);
    await Promise.all(all);
    line.finish();
  });

  // A wrong `sleepers` word (+8 of a wait line) made every wake release 64
  // counts; the surplus was never bounded: after 3,000 messages with the
  // word scribbled, the idle reader spun through ~21,000 spurious wakes
  // (a second of CPU under Wine; it grows with the traffic).
  it("a scribbled sleepers word leaves a bounded surplus: the idle reader stops waking within a moment", async () => {
    const tx = keep(Channel.create({ capacity: 1024, spin: 0 }));
    const rx = keep(Channel.attach(tx.name, { spin: 0 }));
    const header = new DataView(tx.segment.handle.buffer(), 0, layout.HEADER_SIZE);
    const scribble = (): void => {
      for (const l of [layout.OFFSETS.reader_wait, layout.OFFSETS.writer_wait]) header.setUint32(l + 8, 0xfffffff0, true);
    };
    const count = 3_000;
    let got = 0;
    const reader = (async () => {
      for (;;) {
        const m = await rx.recv({ timeout: 60_000 }).catch(() => null);
        if (m === null) return;
        got++;
      }
    })();
    for (let i = 0; i < count; i++) {
      if (i % 10 === 0) scribble();
      await tx.send(new Uint8Array(100), { timeout: 60_000 });
    }
    while (got < count) await sleep(1);
    for (const l of [layout.OFFSETS.reader_wait, layout.OFFSETS.writer_wait]) header.setUint32(l + 8, 0, true);
    await sleep(1_000); // the surplus drains
    const before = rx.stats.sleeps;
    await sleep(2_000);
    // The reader's own 100 ms re-check costs ~1 sleep per 100 ms at most.
    expect(rx.stats.sleeps - before).toBeLessThan(50);
    tx.close();
    await reader;
  });
});

describe("lifecycle (review)", () => {
  // Was a bug on all platforms: SegmentHandle::CloseNow closed the segment's
  // native waiters with alive=false, so the JS Waiter's pending promise
  // neither resolved nor rejected. Segment.close() now closes its Waiters first.
  it("a Waiter.wait() pending when its segment is closed settles (rejects ECLOSED)", async () => {
    const seg = Segment.create({ size: 4096 });
    const line = new WaitLine(seg, layout.OFFSETS.writer_wait);
    const waiter = new Waiter(line, "futex");
    const p = waiter.wait(line.prepare("futex")).then(
      (r) => r,
      (e: { code?: string }) => e.code,
    );
    await sleep(50);
    seg.close();
    const r = await Promise.race([p, sleep(2_000).then(() => "pending")]);
    expect(r).toBe("ECLOSED");
  });

  // Windows only (documented, PROTOCOL §5): a name is taken while any
  // process holds a handle, including one whose attach failed. Shown here in
  // one process: the owner's close leaves the name to an attacher's handle.
  it.runIf(process.platform === "win32")("a closed name is not re-creatable while another handle is open (EEXIST), then is", () => {
    const seg = Segment.create({ size: 4096 });
    const other = Segment.attach(seg.name);
    seg.close();
    expect(() => Segment.create({ name: seg.name, size: 4096 })).toThrow(/EEXIST/);
    other.close();
    const again = keep(Segment.create({ name: seg.name, size: 4096 }));
    expect(again.name).toBe(seg.name);
  });
});
