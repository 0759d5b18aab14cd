// child_process IPC as a benchmark transport: the host forks its peer
// (spawn with an "ipc" stdio channel, as child_process.fork does) and both
// use process.send() / the "message" event, the channel Node programs get for
// free between a parent and its child. Serialization "advanced" (V8's
// structured clone): a Buffer travels as bytes. (The default, "json", would
// turn a Buffer into a JSON array of numbers, many times slower.) A bulk
// transfer is one message.
// Back-pressure: send() waits once 1024 messages are written but not yet
// handed to the kernel, as process.send()'s return value advises.
import { spawn } from "node:child_process";
import * as path from "node:path";

import type { Job } from "../scenarios.js";
import { Queue, bulkOverMessages, expectControl, type Control } from "./queue.js";
import type { Endpoint, LinkedTransport, PeerReport } from "./types.js";

export const LINKED_PEER = path.join(__dirname, "linked-peer.js");

/** process.send or childProcess.send, with a completion callback. */
export type IpcSend = (m: unknown, done: (e: Error | null) => void) => boolean;

const HIGH_WATER = 1024;

/** A message endpoint over one IPC channel; data messages are byte arrays, control messages objects. */
export function ipcEndpoint(send: IpcSend, inbox: Queue<Uint8Array>, close: () => void): Endpoint {
  let pending = 0;
  let failed: Error | null = null;
  let resume: (() => void) | null = null;
  const written = (e: Error | null): void => {
    pending--;
    if (e) failed ??= e;
    if (resume && (pending <= HIGH_WATER / 2 || failed)) {
      const r = resume;
      resume = null;
      r();
    }
  };
  const ep: Endpoint = {
    maxMessageSize: Number.MAX_SAFE_INTEGER,
    send(msg) {
      if (failed) throw failed;
      pending++;
      send(msg, written);
      if (pending >= HIGH_WATER) return new Promise<void>((r) => (resume = r));
    },
    recv: () => inbox.next(),
    ...bulkOverMessages((data) => ep.send(data), inbox),
    close,
  };
  return ep;
}

export function childIpcTransport(): LinkedTransport {
  return {
    transport: "child-ipc",
    mode: null,
    linked: "child-process",
    async start(job: Job, cpu: number | null) {
      const cmd = cpu === null ? process.execPath : "taskset";
      const args = cpu === null ? [LINKED_PEER] : ["-c", String(cpu), process.execPath, LINKED_PEER];
      const proc = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit", "ipc"], serialization: "advanced" });
      const inbox = new Queue<Uint8Array>();
      const control = new Queue<Control>();
      proc.on("message", (m: unknown) => (ArrayBuffer.isView(m) ? inbox.push(m as Uint8Array) : control.push(m as Control)));
      const exited = new Promise<void>((resolve) =>
        proc.once("exit", (code, signal) => {
          const e = new Error(`the peer process exited (${signal ?? code})`);
          inbox.fail(e);
          control.fail(e);
          resolve();
        }),
      );
      proc.once("error", (e) => control.fail(e));
      proc.send({ ctl: "start", job } satisfies Control);
      await expectControl(control, "ready");
      const endpoint = ipcEndpoint((m, done) => proc.send(m as object, done), inbox, () => undefined);
      return {
        endpoint,
        peer: {
          result: async () => (await expectControl(control, "result")).report as PeerReport,
          async close() {
            if (proc.connected) proc.send({ ctl: "close" } satisfies Control);
            await exited;
          },
        },
      };
    },
  };
}
