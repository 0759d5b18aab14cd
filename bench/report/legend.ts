// What every row and column of the results means, printed with them: each
// transport and mode (and when to pick it), then how to read the tables.

const WIN = process.platform === "win32";

/** One line or two per transport, by its name in the tables. */
export const TRANSPORT_LEGEND: Record<string, string> = {
  "shm-event":
    "this package's channel with its default options (await recv()): spins briefly (adaptive), then sleeps on the " +
    (WIN
      ? "event loop and is woken through a waiter thread (it sleeps on the wait line's semaphore and calls the loop). "
      : "event loop and is woken by a doorbell (a datagram the writer sends to a socket the loop watches). ") +
    "The default: pick it for ordinary async code; the event loop stays free and an idle reader costs no CPU.",
  "shm-futex":
    "the same channel with blocking recvSync()/sendSync(): the thread sleeps in the kernel on a " +
    (WIN ? "semaphore" : "futex") +
    " and the writer wakes it directly. Pick it in a worker thread or a process that only serves this channel: it blocks its thread while it waits.",
  "shm-spin":
    "the same channel with spin: Infinity: never sleeps, keeps polling shared memory. Lowest latency, but each waiting " +
    "side burns a whole core, busy or idle. Pick it only with cores to spare (ideally pinned, --pin).",
  "shm-loan":
    "pointcloud only: the channel's bulk loans. The writer takes a loan (tx.loan(size): shared memory of its pool), " +
    "fills it in place and sends it: a 32-byte descriptor goes through the ring, no payload byte is copied; the reader " +
    "gets a view of the same memory and release()s it. Pick it for large buffers you can produce in place.",
  "shm-copy":
    "pointcloud only: send() of an ordinary Buffer larger than the ring's maxMessageSize: copied once into a loan " +
    "(copy-in), then handed over as shm-loan. For large buffers made elsewhere.",
  disruptor:
    "shared-memory-disruptor (an LMAX Disruptor over POSIX shared memory, another package with a native addon), one " +
    "per direction: fixed-size elements ([u32 length][payload]), sends claimed ahead and committed per tick, receives " +
    "taking every published element at once. It has no way to sleep: a waiting side polls (spin), burning a core, as " +
    "shm-spin. rtt and stream only; skipped without the package (a devDependency) or its built addon.",
  "peer-shm":
    "a Peer (listen()/connect(): the ZeroMQ handshake, then a channel each way in shared memory), send()/recv() per " +
    `message, as a mesh's agents talk; the listener on ${WIN ? "tcp loopback (no ipc:// on Windows)" : "an ipc:// endpoint"}.`,
  "peer-zmq":
    "the same Peer with transport \"zmq\": its messages over ZeroMQ itself, as with a peer on another host (credit-based flow control).",
  tcp: "Node net over 127.0.0.1 loopback (noDelay, length-prefixed frames, writes corked per tick): the baseline every ratio is against. Works across machines.",
  uds: WIN ? "the same code over a named pipe (Node's IPC path on Windows; local only)." : "the same code over a Unix domain socket (local only).",
  "zmq-ipc":
    "ZeroMQ (the zeromq package, v6), Dealer to Dealer over ipc:// (a Unix socket). Skipped without the optional zeromq package" +
    (WIN ? ", and on Windows (no ipc:// there)." : "."),
  "zmq-router":
    `ZeroMQ Dealer to Router over ${WIN ? "tcp:// on 127.0.0.1" : "ipc://"}, the Router sending with the Dealer's routing id: what a Peer on transport zmq is built on, alone (peer-zmq against it: the Peer layer's cost).`,
  "zmq-tcp": "ZeroMQ, Dealer to Dealer over tcp:// on 127.0.0.1.",
  "child-ipc":
    "process.send() between a parent and the child it forked (child_process IPC channel), serialization 'advanced' " +
    "(structured clone: a Buffer travels as bytes; the default 'json' turns it into an array of numbers, far slower). " +
    "Built in, but only between a parent and its own child.",
  "worker-port":
    "worker_threads: a MessagePort between the main thread and a worker thread of the SAME process: threads, not " +
    "processes (one crash ends both; no isolation). Every message is copied (structured clone). CPU and RSS are the " +
    "whole process's; not pinned with --pin.",
  memcpy: "bulk and pointcloud: one Buffer.set() of the same size inside one process: the floor for copying the bytes once.",
  lossy: "a deliberately broken TCP transport for the benchmark's own tests: it must fail its rows.",
};

export const HOW_TO_READ = [
  "rtt: one message in flight, echoed back; p50/p99/p99.9 are percentiles of the round-trip time in µs (lower is better).",
  "stream: messages one way as fast as the transport takes them; msgs/s and MB/s at the receiver (higher is better).",
  "stream-batch: the same through each transport's batch API, where it has one: shm trySendMany/sendMany and drain " +
    "(one index store and one release per batch, nothing allocated per message), a socket's frames in one write, " +
    "ZeroMQ's multipart message (each part a message); --batch messages per send (default 64).",
  "bulk: one buffer sent, the receiver reads every page and acknowledges; ms is the median time per transfer (lower is better).",
  "pointcloud: the same in steady state (warm-up transfers first), the writer filling the buffer (one byte per 4 KiB page) " +
    "before each send; handoff: from just before the send to the moment the reader has the whole buffer (a socket: its " +
    "last chunk), stamped by both processes on one clock (CLOCK_MONOTONIC); full: from the start of the fill until the " +
    "acknowledgement is back, the reader having read every page; p99 only with 100 transfers or more (lower is better).",
  "connect: a new connection from nothing to the first 64 B echo, closed after it (a Peer: connect() with its handshake, " +
    "rings made and mapped); percentiles in µs. Peers also: the listener process killed (-9) and started again; reconnect: " +
    "from its listen() returning to the Peer being connected again (CLOCK_MONOTONIC of both), and to the first echo (lower is better).",
  "cpu: user+system CPU time of both ends per round trip, message or transfer, in µs, spinning included (lower is better). " +
    "rss: the larger peak resident memory of the two ends, MB (lower is better).",
  '"vs tcp": each row against tcp in the same run, always as "N× faster" or "N× slower", so faster is always better ' +
    "(latency and time: tcp's figure / this one; throughput: this one / tcp's). Absolute figures belong to this machine; the ratios carry better.",
];

/** The legend lines for the transports present, in the given order. */
export function legendFor(names: string[]): [string, string][] {
  return names.map((n) => [n, TRANSPORT_LEGEND[n] ?? "(no description)"]);
}
