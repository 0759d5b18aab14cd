// (c) A peer killed while this process waits on it: the pending send() or
// recv() rejects with EPEERDEAD. The kill is child.kill("SIGKILL"): SIGKILL
// on Linux, TerminateProcess on Windows (where every signal is). The time
// from the kill to the rejection is printed and bounded.
import { afterEach, describe, expect, it } from "vitest";

import { Channel, Segment, sweep } from "../../dist/lib/index.js";
import { fillRing, killStrays, sleep } from "../helpers.js";
import { codeOf, exited, spawnPeer, type PeerProcess } from "./helpers.js";

afterEach(killStrays);

// The requirement is 250 ms on real systems (Linux measures a few ms: pidfd).
// Asserted here: under 700 ms, as in test/core/lifecycle.test.ts. It leaves
// room for a loaded 2-core machine and for Wine (kills and waits go through
// wineserver) while staying under the 1 s re-check of a wait whose peer is
// watched: a death watch that does not work, leaving only that re-check,
// fails.
const BOUND_MS = 700;

/** Kills `child` once `pending` is waiting; resolves with the rejection's code and the ms from the kill to it. */
async function killDuring(peer: PeerProcess, pending: Promise<unknown>): Promise<{ code: string; ms: number }> {
  let settledAt = 0;
  const outcome = pending.then(
    () => "resolved",
    (e: unknown) => String((e as { code?: unknown }).code),
  );
  void outcome.then(() => (settledAt = performance.now()));
  // The wait has gone to sleep by now (it sleeps after a spin of microseconds);
  // if it had not, the kill would still be noticed, only by another path.
  await sleep(300);
  expect(settledAt).toBe(0); // still waiting: the peer is alive
  const t0 = performance.now();
  peer.child.kill("SIGKILL");
  const code = await outcome;
  return { code, ms: (settledAt || performance.now()) - t0 };
}

describe("a peer killed while this process waits", () => {
  it(`a writer blocked in send() on a full ring gets EPEERDEAD when the reader's process is killed (under ${BOUND_MS} ms)`, async () => {
    const tx = Channel.create({ capacity: 4096 });
    const name = tx.name;
    try {
      const peer = spawnPeer(["idle-reader", name]);
      await peer.line(/^attached$/);
      fillRing(tx);
      const r = await killDuring(peer, tx.send(new Uint8Array(100), { timeout: 60_000 }));
      console.log(`EPEERDEAD (send, reader killed) after ${r.ms.toFixed(1)} ms on ${process.platform}`);
      expect(r.code).toBe("EPEERDEAD");
      expect(r.ms).toBeLessThan(BOUND_MS);
      await exited(peer.child);
    } finally {
      tx.close();
    }
    expect(codeOf(() => Segment.attach(name).close())).toBe("ENOENT");
  });

  it(`a reader blocked in recv() on an empty ring gets EPEERDEAD when the writer's process is killed (under ${BOUND_MS} ms)`, async () => {
    const peer = spawnPeer(["idle-writer"]);
    const name = (await peer.line(/^name /)).slice(5);
    const rx = Channel.attach(name);
    try {
      const r = await killDuring(peer, rx.recv({ timeout: 60_000 }));
      console.log(`EPEERDEAD (recv, writer killed) after ${r.ms.toFixed(1)} ms on ${process.platform}`);
      expect(r.code).toBe("EPEERDEAD");
      expect(r.ms).toBeLessThan(BOUND_MS);
      await exited(peer.child);
    } finally {
      rx.close();
    }
    // A killed owner cannot remove its segment. On Linux it stays in
    // /dev/shm until swept: this sweeps it (only it: other tests' dead
    // segments are theirs; a full sweep running alongside may have taken it
    // already, hence no check of what this one removed). On Windows it went
    // with its last handle, the reader's.
    if (process.platform !== "win32") sweep({ names: [name] });
    expect(codeOf(() => Segment.attach(name).close())).toBe("ENOENT");
  });
});
