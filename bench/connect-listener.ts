// The listening side of the connect scenario (bench/connect.ts), a process
// of its own so that the orchestrator can kill it and start it again:
//   node dist/bench/connect-listener.js KIND ENDPOINT
// KIND: tcp (a net server on ENDPOINT "host:port", port 0: any), zmq-ipc (a ROUTER),
// peer-shm or peer-zmq (listen() with that transport). Every connection's
// every message is echoed. Prints "listening <CLOCK_MONOTONIC ns>" once it
// accepts connections (the reconnect figure starts there), then runs until
// killed.
import { createServer } from "node:net";

import { listen } from "../lib/index.js";
import { zeromqOrNull } from "../lib/peer/zmq.js";

const ready = (port = 0): void => void process.stdout.write(`listening ${process.hrtime.bigint()} ${port}\n`);

async function main(kind: string, endpoint: string): Promise<void> {
  if (kind === "tcp") {
    const [host, port] = [endpoint.slice(0, endpoint.lastIndexOf(":")), Number(endpoint.slice(endpoint.lastIndexOf(":") + 1))];
    const server = createServer((s) => {
      s.setNoDelay(true);
      s.on("data", (d) => s.write(d));
      s.on("error", () => {});
    });
    server.listen(port, host, () => ready((server.address() as { port: number }).port));
    return;
  }
  if (kind === "zmq-ipc") {
    const router = new (zeromqOrNull()!.Router)({ linger: 0 });
    await router.bind(endpoint);
    ready();
    for await (const [id, m] of router) await router.send([id!, m!]);
    return;
  }
  const server = await listen(endpoint, { name: "bench-listener", transport: kind === "peer-shm" ? "auto" : "zmq", capacity: 64 * 1024 });
  ready();
  for await (const peer of server) {
    void (async () => {
      try {
        for await (const m of peer) await peer.send(m);
      } catch {
        // the connector went
      }
      await peer.close();
    })();
  }
}

const [kind, endpoint] = process.argv.slice(2);
main(kind!, endpoint!).catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
