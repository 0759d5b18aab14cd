// A transport under benchmark, seen from one process. The host child and the
// peer child connect in two steps through the orchestrator: the host makes an
// offer (a segment name, a port, an endpoint URL), the peer answers, the host
// completes.

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
  close(): Promise<void> | void;
}

export interface Transport {
  /** Name in reports: "shm", "tcp", "uds", "zmq-ipc", "zmq-tcp". */
  transport: string;
  /** shm: "event" | "futex" | "spin"; null otherwise. */
  mode: string | null;
  host(opts: ConnectOptions): Promise<{ offer: string; complete(answer: string): Promise<Endpoint> }>;
  peer(offer: string, opts: ConnectOptions): Promise<{ answer: string; endpoint: Endpoint }>;
}

export interface ConnectOptions {
  /** The scenario's message or bulk size, so a transport can size its buffers. */
  size: number;
  scenario: "rtt" | "stream" | "bulk";
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
