// Misuse of every call: each must be a typed error (a string code), never a crash or hang.
import { Broadcast } from "../../dist/lib/index.js";
const w = Broadcast.create({ capacity: 4096 });
const r = Broadcast.attach(w.name);
const tries = {
  "attach spin -5": () => Broadcast.attach(w.name, { spin: -5 }),
  "attach spin NaN": () => Broadcast.attach(w.name, { spin: NaN }),
  "attach spin 'x'": () => Broadcast.attach(w.name, { spin: "x" }),
  "attach mode bad": () => Broadcast.attach(w.name, { mode: "bad" }),
  "attach topics [1]": () => Broadcast.attach(w.name, { topics: [1] }),
  "attach topics 'a'": () => Broadcast.attach(w.name, { topics: "a" }),
  "attach 123": () => Broadcast.attach(123),
  "attach null opts": () => Broadcast.attach(w.name, null),
  "create cap 5000": () => Broadcast.create({ capacity: 5000 }),
  "create cap 2^31": () => Broadcast.create({ capacity: 2 ** 31 }),
  "create maxSubs 0": () => Broadcast.create({ maxSubscribers: 0 }),
  "create policy x": () => Broadcast.create({ policy: "x" }),
  "create name bad": () => Broadcast.create({ name: "../x" }),
  "create name dup": () => Broadcast.create({ name: w.name }),
  "send topic 1": () => w.trySend(1, new Uint8Array(1)),
  "send data string": () => w.trySend("t", "abc"),
  "send data big": () => w.trySend("t", new Uint8Array(5000)),
  "sendSync NaN": () => w.sendSync("t", new Uint8Array(1), NaN),
  "sendSync -1": () => w.sendSync("t", new Uint8Array(1), -1),
  "recvSync NaN": () => r.recvSync(NaN),
  "tryLoan NaN": () => w.tryLoan(NaN),
  "tryLoan 2^53": () => w.tryLoan(2 ** 53),
  "tryLoan -1": () => w.tryLoan(-1),
  "tryLoan 1.5": () => w.tryLoan(1.5),
};
for (const [k, f] of Object.entries(tries)) {
  try { const x = f(); console.log(k, "-> no error", x?.constructor?.name); x?.close?.(); } catch (e) { console.log(k, "->", e.code ?? `UNTYPED ${e.constructor.name}: ${e.message}`); }
}
for (const [k, f] of Object.entries({
  "send timeout -1": () => w.send("t", new Uint8Array(1), { timeout: -1 }),
  "recv timeout 'x'": () => r.recv({ timeout: "x" }),
  "recv signal {}": () => r.recv({ signal: {} }),
  "loan 0": () => w.loan(0),
})) {
  try { await f(); console.log(k, "-> no error"); } catch (e) { console.log(k, "->", e.code ?? `UNTYPED ${e.constructor.name}: ${e.message}`); }
}
r.close(); r.close(); w.close(); w.close();
for (const [k, f] of Object.entries({ "send after close": () => w.trySend("t", new Uint8Array(1)), "tryLoan after close": () => w.tryLoan(10), "recv after close": () => r.tryRecv(), "subscribers after close": () => w.subscribers.length, "stats after close": () => w.stats.subscribers, "flushHeld after close": () => w.flushHeld() })) {
  try { console.log(k, "->", f()); } catch (e) { console.log(k, "->", e.code ?? `UNTYPED ${e.constructor.name}: ${e.message}`); }
}
