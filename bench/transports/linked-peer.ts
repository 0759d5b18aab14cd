// The peer of a linked transport, started by the host itself: as a child
// process (child-ipc: the host spawns this file with an IPC channel) or as a
// worker thread (worker-port: workerData carries the job and a MessagePort).
// It runs the peer's side of the scenario, reports its figures and costs to
// the host, and closes when the host says so.
//   host -> peer   { ctl: "start", job } (child process only), { ctl: "close" }
//   peer -> host   { ctl: "ready" }, { ctl: "result", report }, { ctl: "error", message }
// A forked peer exits when its host is gone (the IPC channel disconnects).
import { isMainThread, parentPort, workerData, type MessagePort } from "node:worker_threads";

import { runPeer, type Job } from "../scenarios.js";
import { ipcEndpoint } from "./child-ipc.js";
import { Queue, expectControl, type Control } from "./queue.js";
import type { Endpoint, PeerReport } from "./types.js";
import { portEndpoint } from "./worker-port.js";

interface Link {
  job: Job;
  endpoint: Endpoint;
  control: Queue<Control>;
  post(m: Control): void;
  /** A worker thread shares its process (and its CPU and RSS figures) with the host. */
  thread: boolean;
}

let closing = false;

async function linkOverIpc(): Promise<Link> {
  const inbox = new Queue<Uint8Array>();
  const control = new Queue<Control>();
  process.on("message", (m: unknown) => (ArrayBuffer.isView(m) ? inbox.push(m as Uint8Array) : control.push(m as Control)));
  process.on("disconnect", () => {
    if (!closing) process.exit(1); // the host is gone
  });
  const start = await expectControl(control, "start");
  const send = (m: unknown, done: (e: Error | null) => void): boolean => process.send!(m, undefined, undefined, done);
  return { job: start.job as Job, endpoint: ipcEndpoint(send, inbox, () => undefined), control, post: (m) => process.send!(m), thread: false };
}

function linkOverPort(): Link {
  const { job, port } = workerData as { job: Job; port: MessagePort };
  const control = new Queue<Control>();
  parentPort!.on("message", (m: Control) => control.push(m));
  return { job, endpoint: portEndpoint(port), control, post: (m) => parentPort!.postMessage(m), thread: true };
}

async function main(): Promise<void> {
  const link = isMainThread ? await linkOverIpc() : linkOverPort();
  try {
    link.post({ ctl: "ready" });
    const t0 = process.cpuUsage();
    const r = await runPeer(link.endpoint, link.job);
    const cpu = process.cpuUsage(t0);
    const report: PeerReport = {
      ...r,
      cpuUs: link.thread ? 0 : cpu.user + cpu.system,
      maxRssKb: process.resourceUsage().maxRSS,
    };
    link.post({ ctl: "result", report });
    await expectControl(link.control, "close");
  } catch (e) {
    link.post({ ctl: "error", message: (e as Error).message });
  }
  closing = true;
  await link.endpoint.close();
  if (isMainThread) process.disconnect();
  else parentPort!.close();
}

void main();
