// Two processes, request and reply: how the other process learns a channel's
// name, one channel per direction, timeouts on every wait, a clean close.
//   npm run build:ts && node dist/examples/two-processes.js
//
// A channel is one-way and its writer creates it (and owns its name). So a
// conversation needs two channels, one created on each side:
//
//   parent --- requests (parent writes, child reads) ---> child
//   parent <--- replies (child writes, parent reads) ---- child
//
// Each name must reach the other process some way, once:
// - parent -> child: on the child's command line (argv), as here. An
//   environment variable works the same way (fork(file, args, { env })).
// - child -> parent: the child is already running, so argv is no use; here
//   it goes over the IPC pipe that fork() sets up (process.send). A line on
//   the child's stdout, a file both sides know, or any existing connection
//   would do too (a ZeroMQ handshake comes in a later version).
// Only the names travel that way: the messages go through shared memory.
import { fork, type ChildProcess } from "node:child_process";

import { Channel, type ChannelReader, type ChannelWriter, type ShmError } from "@synaptic-mesh/shm";

// Every wait has a timeout, so a peer that hangs cannot hang us. The values
// are generous on purpose: a reply takes microseconds, but a child process
// starting on a busy machine can take seconds.
const REPLY_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 30_000;

interface Request {
  id: number;
  op: "add" | "mul";
  args: number[];
}
interface Reply {
  id: number;
  result: number;
}

// Messages are bytes; JSON is the simplest encoding for small requests.
const encode = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
// A received message is a view into the ring, valid until the next receive:
// decode it (or copy it) before receiving again.
const decode = <T>(view: Uint8Array): T => JSON.parse(Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString()) as T;

// ---- parent: creates "requests", learns the name of "replies" -------------
async function parent(): Promise<void> {
  const requests = Channel.create({ capacity: 64 * 1024 });
  console.log(`parent: created the request channel ${requests.name}; its name goes to the child on argv`);
  const child = fork(__filename, ["child", requests.name]);

  let replies: ChannelReader | null = null;
  try {
    const repliesName = await firstMessage(child, START_TIMEOUT_MS);
    replies = Channel.attach(repliesName);
    console.log(`parent: attached ${repliesName}, named by the child over the IPC pipe`);

    const asks: Request[] = [
      { id: 1, op: "add", args: [2, 3] },
      { id: 2, op: "mul", args: [6, 7] },
      { id: 3, op: "add", args: [1, 2, 3, 4] },
    ];
    for (const req of asks) {
      console.log(`parent: -> #${req.id} ${req.op} ${req.args.join(" ")}`);
      await requests.send(encode(req), { timeout: REPLY_TIMEOUT_MS }); // waits only if the ring is full
      const reply = decode<Reply>(await replies.recv({ timeout: REPLY_TIMEOUT_MS }));
      console.log(`parent: <- #${reply.id} = ${reply.result}`);
    }

    // Closing the writing end is "end of stream": the child receives what
    // was sent, then its recv() rejects with ECLOSED.
    console.log("parent: closing the request channel");
    requests.close();
    try {
      await replies.recv({ timeout: REPLY_TIMEOUT_MS });
      throw new Error("the child sent a reply nobody asked for");
    } catch (e) {
      if ((e as ShmError).code !== "ECLOSED") throw e; // ETIMEDOUT, EPEERDEAD: the child misbehaved
      console.log("parent: the child closed the reply channel (ECLOSED: end of stream)");
    }
    const code = await exited(child);
    console.log(`parent: child exited with code ${code}`);
  } finally {
    // close() is safe twice; the writer's close also removes the name.
    requests.close();
    replies?.close();
  }
}

// ---- child: attaches "requests", creates "replies" ------------------------
async function child(requestsName: string): Promise<void> {
  const requests = Channel.attach(requestsName);
  const replies: ChannelWriter = Channel.create({ capacity: 64 * 1024 });
  console.log(`child:  attached ${requestsName} (from argv), created the reply channel ${replies.name}`);
  process.send!(replies.name); // the one thing the IPC pipe carries

  let served = 0;
  for (;;) {
    let req: Request;
    try {
      // Generous: the parent may be slow to start asking on a busy machine.
      req = decode<Request>(await requests.recv({ timeout: START_TIMEOUT_MS }));
    } catch (e) {
      if ((e as ShmError).code === "ECLOSED") break; // the parent closed: end of stream
      throw e; // ETIMEDOUT (parent went quiet), EPEERDEAD (parent died)
    }
    const result = req.op === "add" ? req.args.reduce((a, b) => a + b, 0) : req.args.reduce((a, b) => a * b, 1);
    console.log(`child:  <- #${req.id}, replying ${result}`);
    await replies.send(encode({ id: req.id, result } satisfies Reply), { timeout: REPLY_TIMEOUT_MS });
    served++;
  }
  console.log(`child:  end of stream after ${served} requests; closing`);
  replies.close(); // the parent reads what is left, then end of stream
  requests.close();
}

// The first IPC message of a child: a name. Rejects if the child exits first
// or stays silent too long.
function firstMessage(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no channel name from the child within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before naming its channel`));
    };
    child.once("exit", onExit);
    child.once("message", (m) => {
      clearTimeout(timer);
      child.off("exit", onExit);
      resolve(String(m));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

const [role, name] = process.argv.slice(2);
(role === "child" ? child(name!) : parent()).catch((e) => {
  console.error(e);
  process.exit(1);
});
