// A transport under benchmark, seen from one process: it sends and receives
// whole messages. The parent ("host") and a forked child ("peer") connect in
// two steps through the fork IPC channel: the host makes an offer (a segment
// name, a port), the peer answers, the host completes.

export interface Endpoint {
  /** Sends one message; resolves when it is handed to the transport (may wait for room). */
  send(msg: Uint8Array): Promise<void> | void;
  /** The next message (a view valid until the next recv). */
  recv(): Promise<Uint8Array> | Uint8Array;
  close(): Promise<void> | void;
}

export interface Transport {
  /** Name in reports: "shm", "tcp", "uds". */
  transport: string;
  /** Notification mode for shm ("event", "spin"), null otherwise. */
  mode: string | null;
  host(): Promise<{ offer: string; complete(answer: string): Promise<Endpoint> }>;
  peer(offer: string): Promise<{ answer: string; endpoint: Endpoint }>;
}
