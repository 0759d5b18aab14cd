// A benchmark process: the orchestrator (run.ts) starts one host and one peer
// per row and talks to them over the fork IPC channel:
//   orchestrator -> child   { job, role, offer? }   then, for the host, { answer };
//                           for the peer, { close } once the host reported its result
//   child -> orchestrator   { type: "offer" | "answer" | "progress" | "result" | "error", ... }
// Each row gets fresh processes, so CPU time and peak RSS are the row's own.
// A linked transport (child-ipc, worker-port) has no peer here: the host
// starts its own (transports/linked-peer.ts) and reports both sides' figures
// in one result ({ ..., peer }).
import { runHost, runMemcpy, runPeer, type Job } from "./scenarios.js";
import { makeTransport } from "./transports/index.js";

export interface ChildStart {
  job: Job;
  role: "host" | "peer" | "memcpy";
  offer?: string;
  /** Linked transports: the core to pin the peer the host starts to (--pin), or null. */
  peerCpu?: number | null;
}

function post(msg: object): Promise<void> {
  return new Promise((resolve) => process.send!(msg, () => resolve()));
}

function nextMessage<T>(): Promise<T> {
  return new Promise((resolve) => process.once("message", (m) => resolve(m as T)));
}

function reporter(): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (now - last > 100) {
      last = now;
      process.send!({ type: "progress", done, total });
    }
  };
}

function usage(t0: NodeJS.CpuUsage): { cpuUs: number; maxRssKb: number } {
  const cpu = process.cpuUsage(t0);
  return { cpuUs: cpu.user + cpu.system, maxRssKb: process.resourceUsage().maxRSS };
}

async function main(): Promise<void> {
  const start = await nextMessage<ChildStart>();
  const { job, role } = start;
  if (role === "memcpy") {
    const t0 = process.cpuUsage();
    const r = runMemcpy(job);
    await post({ type: "result", ...r, ...usage(t0) });
    return;
  }
  const transport = makeTransport(job.transport, job.cork, job.spin);
  const opts = { size: job.size, scenario: job.scenario };
  if (transport.linked) {
    if (role !== "host") throw new Error(`${job.transport}: the host starts the peer`);
    const { endpoint, peer } = await transport.start(job, start.peerCpu ?? null);
    const t0 = process.cpuUsage();
    const r = await runHost(endpoint, job, reporter());
    const u = usage(t0);
    const p = await peer.result();
    await peer.close();
    await endpoint.close();
    await post({ type: "result", ...r, ...u, peer: p });
    return;
  }
  if (role === "host") {
    const h = await transport.host(opts);
    const answer = nextMessage<{ answer: string }>();
    await post({ type: "offer", offer: h.offer, leftovers: h.leftovers });
    const ep = await h.complete((await answer).answer);
    const t0 = process.cpuUsage();
    const r = await runHost(ep, job, reporter());
    const u = usage(t0);
    await ep.close();
    await post({ type: "result", ...r, ...u });
  } else {
    const p = await transport.peer(start.offer!, opts);
    await post({ type: "answer", answer: p.answer });
    const t0 = process.cpuUsage();
    const r = await runPeer(p.endpoint, job);
    const u = usage(t0);
    const close = nextMessage<{ close: true }>();
    await post({ type: "result", ...r, ...u });
    // Close only once the host has everything: the last reply may still sit
    // in the transport's queue (ZeroMQ drops it at close with linger 0).
    await close;
    await p.endpoint.close();
  }
}

main().then(
  () => process.exit(0),
  async (e: Error) => {
    await post({ type: "error", message: e.message });
    process.exit(1);
  },
);
