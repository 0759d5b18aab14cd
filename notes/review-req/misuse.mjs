// Misuse of request/reply: every error must be typed (a `code`) and nothing hangs.
import { pair } from "./common.mjs";
const show = async (what, f) => {
  try { const v = await Promise.race([f(), new Promise((_, j) => setTimeout(() => j(Object.assign(new Error("HANG"), { code: "HANG" })), 3000))]); console.log(what, "-> ok", v?.length ?? v); }
  catch (e) { console.log(what, "->", e.code ?? `UNTYPED ${e.name}: ${e.message}`); }
};
for (const transport of ["auto", "zmq"]) {
  const p = await pair({}, transport);
  console.log("== transport", p.cp.transport);
  const ab = new ArrayBuffer(8); structuredClone(ab, { transfer: [ab] });
  await show("request(detached)", () => p.cp.request(new Uint8Array(ab), { timeout: 1000 }));
  await show("request(string)", () => p.cp.request("abc", { timeout: 1000 }));
  await show("request(null)", () => p.cp.request(null, { timeout: 1000 }));
  await show("request timeout -1", () => p.cp.request(Buffer.from("x"), { timeout: -1 }));
  await show("request timeout NaN", () => p.cp.request(Buffer.from("x"), { timeout: NaN }));
  await show("request signal junk", () => p.cp.request(Buffer.from("x"), { signal: 5 }));
  const l = await p.cp.loan(64);
  const r1 = p.cp.request(l, { timeout: 1000 }); r1.catch(() => {});
  await show("loan sent twice", () => p.cp.request(l, { timeout: 1000 }));
  const it = p.sp.requests({ timeout: 2000 });
  const { value: req } = await it.next();
  await show("reply(undefined)", () => req.reply(undefined));
  await show("reply ok", () => req.reply(Buffer.from("a")));
  await show("reply twice", () => req.reply(Buffer.from("b")));
  await show("fail after reply", () => req.fail("x"));
  await show("r1", () => r1);
  const r2 = p.cp.request(Buffer.from("y"), { timeout: 2000 }); r2.catch(() => {});
  const { value: req2 } = await it.next();
  await show("reply huge", () => req2.reply(new Uint8Array(300 << 20)));
  await show("fail(obj)", () => req2.fail({ toString() { return "objmsg"; } }));
  await show("r2", () => r2);
  const r3 = p.cp.request(Buffer.from("z"), { timeout: 2000 }); r3.catch(() => {});
  const { value: req3 } = await it.next();
  await it.return();
  await p.sp.close();
  await show("reply after close", () => req3.reply(Buffer.from("late")));
  await show("r3 (server closed)", () => r3);
  await show("request after remote close", () => p.cp.request(Buffer.from("x"), { timeout: 1000 }));
  await p.cp.close();
  await show("request on closed", () => p.cp.request(Buffer.from("x"), { timeout: 1000 }));
  await show("requests() on closed", () => p.cp.requests().next());
  await show("serve(non-fn)", () => p.cp.serve(5));
  await show("serve concurrency 0", () => p.cp.serve(() => 1, { concurrency: 0 }));
  await p.close();
}
