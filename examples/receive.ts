// Two processes, one channel: the receive model and the ways out of a wait.
//   node dist/examples/receive.js
// The parent writes; a child process (this same file, with "reader") reads:
// zero-copy views with recv(), keep() for a message needed later, a timeout
// while the writer is quiet, then the rest through Readable.from into a
// Transform (the iterator hands out copies, so buffering ahead is safe).
import { fork } from "node:child_process";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { Channel } from "@synaptic-mesh/shm";

async function writer(): Promise<void> {
  const tx = Channel.create({ capacity: 64 * 1024 });
  const child = fork(__filename, ["reader", tx.name]);
  const header = Buffer.from("header: 3 parts follow");
  await tx.send(header);
  const part = Buffer.alloc(1000);
  for (let i = 1; i <= 3; i++) {
    part.fill(48 + i); // reusing one buffer is fine: send() copies before it returns
    await tx.send(part, { timeout: 5000 });
  }
  // Quiet until the reader says its recv({ timeout }) gave up (a fixed
  // pause would race a slow reader on a busy machine).
  await new Promise((r) => child.once("message", r));
  for (let i = 0; i < 1000; i++) await tx.send(Buffer.from(`line ${i}\n`), { timeout: 5000 });
  tx.close(); // the reader gets everything sent, then end of stream
  const code = await new Promise((r) => child.on("exit", r));
  console.log(`writer: done, reader exited with ${code}`);
}

async function reader(name: string): Promise<void> {
  const rx = Channel.attach(name, { maxKept: 4 });
  await rx.recv({ timeout: 5000 });
  const header = rx.keep(); // valid beyond the next receives, until release()
  let bytes = 0;
  for (let i = 0; i < 3; i++) bytes += (await rx.recv({ timeout: 5000 })).length; // views: valid until the next receive
  console.log(`reader: ${Buffer.from(header.data).toString()}; got ${bytes} bytes`);
  header.release();
  try {
    await rx.recv({ timeout: 50 });
  } catch (e) {
    console.log(`reader: nothing for 50 ms (${(e as { code: string }).code}); the next receive gets the next message`);
  }
  process.send!("timed out"); // the writer goes on
  let lines = 0;
  const count = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines += chunk.toString().split("\n").length - 1;
      cb();
    },
  });
  const upper = new Transform({ transform: (chunk: Buffer, _enc, cb) => cb(null, chunk.toString().toUpperCase()) });
  await pipeline(Readable.from(rx), upper, count);
  console.log(`reader: ${lines} lines through Readable.from`);
  rx.close();
}

const [role, name] = process.argv.slice(2);
(role === "reader" ? reader(name!) : writer()).catch((e) => {
  console.error(e);
  process.exit(1);
});
