// A transport under benchmark, seen from one process. The host child and the
// peer child connect in two steps through the orchestrator: the host makes an
// offer (a segment name, a port, an endpoint URL), the peer answers, the host
// completes. A linked transport (child_process IPC, worker_threads) needs its
// two ends related: the host starts the peer itself, as its own child process
// or as a worker thread in its process (LinkedTransport).
import type { Job } from "../scenarios.js";

export interface Endpoint {
  /** Largest message send() takes; bulk transfers are chunked to it. */
  readonly maxMessageSize: number;
  /** Sends one message; may resolve later when the transport has room. */
  send(msg: Uint8Array): Promise<void> | void;
  /** The next message (a view valid until the next recv). */
  recv(): Promise<Uint8Array> | Uint8Array;
  /** Sends `data` as one bulk transfer, the transport's best way. */
  sendBulk(data: Uint8Array): Promise<void>;
  /** Receives a bulk transfer of `size` bytes, handing each piece to onChunk as it arrives. */
  recvBulk(size: number, onChunk: (chunk: Uint8Array) => void): Promise<void>;
  /**
   * Loan transports only: `size` bytes of shared memory to fill in place and
   * pass to sendBulk (which then copies nothing). Others fill their own buffer.
   */
  lend?(size: number): Promise<Uint8Array>;
  /**
   * Batch API (the stream-batch scenario), on transports that have one:
   * sends `msgs` in order as separate messages, the transport's batched way
   * (one publication, one corked write, one multipart message...).
   */
  sendMany?(msgs: readonly Uint8Array[]): Promise<void> | void;
  /**
   * Batch API: hands every message available now, in order, to onMessage
   * (its bytes are data[offset, offset + length), valid during the call
   * only), waiting for the first if there is none; returns how many.
   */
  recvMany?(onMessage: (data: Uint8Array, offset: number, length: number) => void): Promise<number> | number;
  /** Loan transports only: what the writer's pool did so far (loans sent, slabs created). */
  loanStats?(): { loans: number; slabsCreated: number };
  close(): Promise<void> | void;
}

export interface Transport {
  /** Name in reports: "shm", "tcp", "uds", "zmq-ipc", "zmq-tcp". */
  linked?: undefined;
  transport: string;
  /** shm: "event" | "futex" | "spin", or "loan" | "copy" (pointcloud); null otherwise. */
  mode: string | null;
  /**
   * `leftovers`: the prefix of the /dev/shm names the host makes beside its
   * offer (a loan pool's slabs), for the orchestrator to remove if the host
   * is killed before it can.
   */
  host(opts: ConnectOptions): Promise<{ offer: string; leftovers?: string; complete(answer: string): Promise<Endpoint> }>;
  peer(offer: string, opts: ConnectOptions): Promise<{ answer: string; endpoint: Endpoint }>;
}

/** What the peer measured of itself: its figures (stream: elapsedMs) and its costs. */
export interface PeerReport {
  elapsedMs?: number;
  /** User+system CPU of the peer's process; 0 for a worker thread (the host's process count includes it). */
  cpuUs: number;
  maxRssKb: number;
}

/** The peer a linked transport started, seen from the host. */
export interface LinkedPeer {
  /** The peer's report, once it has run its side of the scenario. */
  result(): Promise<PeerReport>;
  /** Tells the peer to close and waits until it has ended. */
  close(): Promise<void>;
}

export interface LinkedTransport {
  /** Name in reports: "child-ipc", "worker-port". */
  transport: string;
  mode: null;
  /** Where the peer runs: a child process the host forks, or a worker thread in the host's process. */
  linked: "child-process" | "worker-thread";
  /** Host side: starts the peer for `job` (a child process pinned to `cpu` if not null) and connects to it. */
  start(job: Job, cpu: number | null): Promise<{ endpoint: Endpoint; peer: LinkedPeer }>;
}

export type AnyTransport = Transport | LinkedTransport;

export interface ConnectOptions {
  /** The scenario's message or bulk size, so a transport can size its buffers. */
  size: number;
  scenario: Job["scenario"];
}

/** Bulk over a message transport: chunks of at most `chunk` bytes, in order. */
export async function sendChunked(ep: Endpoint, data: Uint8Array, chunk: number): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    const p = ep.send(data.subarray(off, Math.min(data.length, off + chunk)));
    if (p) await p;
  }
}

export async function recvChunked(ep: Endpoint, size: number, onChunk: (c: Uint8Array) => void): Promise<void> {
  let got = 0;
  while (got < size) {
    let m = ep.recv();
    if (m instanceof Promise) m = await m;
    if (m.length === 0 || got + m.length > size) throw new Error(`bulk: chunk of ${m.length} bytes after ${got} of ${size}`);
    onChunk(m);
    got += m.length;
  }
}
