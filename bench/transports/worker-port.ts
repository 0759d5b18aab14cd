// worker_threads as a benchmark transport: threads, not processes. The host
// starts its peer as a worker thread in its own process and both ends talk
// over a MessagePort (a MessageChannel, one port handed to the worker): what
// a Node program uses to feed a worker. postMessage() copies each message
// (structured clone); transferring the ArrayBuffer instead would avoid the
// copy but hand the buffer over, and the scenarios reuse theirs. A bulk
// transfer is one message.
// A MessagePort has no back-pressure: the receiver returns a credit (the
// count it has taken) every 1024 messages and send() waits while 8192 are
// outstanding, so a stream cannot queue without bound.
// CPU time and peak RSS are the process's: both ends together.
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";

import type { Job } from "../scenarios.js";
import { LINKED_PEER } from "./child-ipc.js";
import { Queue, bulkOverMessages, expectControl, type Control } from "./queue.js";
import type { Endpoint, LinkedTransport, PeerReport } from "./types.js";

const WINDOW = 8192;
const CREDIT_EVERY = 1024;

export function portEndpoint(port: MessagePort): Endpoint {
  const inbox = new Queue<Uint8Array>();
  let sent = 0;
  let credited = 0;
  let received = 0;
  let resume: (() => void) | null = null;
  port.on("message", (m: Uint8Array | number) => {
    if (typeof m === "number") {
      credited = m;
      if (resume && sent - credited <= WINDOW / 2) {
        const r = resume;
        resume = null;
        r();
      }
      return;
    }
    inbox.push(m);
    if (++received % CREDIT_EVERY === 0) port.postMessage(received);
  });
  port.once("close", () => inbox.fail(new Error("the MessagePort closed")));
  const ep: Endpoint = {
    maxMessageSize: Number.MAX_SAFE_INTEGER,
    send(msg) {
      port.postMessage(msg);
      if (++sent - credited >= WINDOW) return new Promise<void>((r) => (resume = r));
    },
    recv: () => inbox.next(),
    ...bulkOverMessages((data) => ep.send(data), inbox),
    close() {
      port.close();
    },
  };
  return ep;
}

export function workerPortTransport(): LinkedTransport {
  return {
    transport: "worker-port",
    mode: null,
    linked: "worker-thread",
    async start(job: Job) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(LINKED_PEER, { workerData: { job, port: port2 }, transferList: [port2] });
      const control = new Queue<Control>();
      worker.on("message", (m: Control) => control.push(m));
      worker.on("error", (e) => control.fail(e));
      const exited = new Promise<void>((resolve) =>
        worker.once("exit", (code) => {
          control.fail(new Error(`the worker thread exited (${code})`));
          resolve();
        }),
      );
      await expectControl(control, "ready");
      const endpoint = portEndpoint(port1);
      return {
        endpoint,
        peer: {
          result: async () => (await expectControl(control, "result")).report as PeerReport,
          async close() {
            worker.postMessage({ ctl: "close" } satisfies Control);
            await exited;
          },
        },
      };
    },
  };
}
