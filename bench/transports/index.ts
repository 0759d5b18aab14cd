// The transports the benchmark knows, by the names used on its command line.
import { childIpcTransport } from "./child-ipc.js";
import { disruptorTransport, loadDisruptor } from "./disruptor.js";
import { lossyTransport } from "./lossy.js";
import { peerTransport } from "./peer.js";
import { shmTransport } from "./shm.js";
import { shmLoanTransport } from "./shm-loan.js";
import { tcpTransport, udsTransport } from "./socket.js";
import type { AnyTransport } from "./types.js";
import { workerPortTransport } from "./worker-port.js";
import type { Scenario } from "../scenarios.js";
import { ZMQ_IPC } from "../scratch.js";
import { loadZmq, zmqIpcTransport, zmqRouterTransport, zmqTcpTransport } from "./zmq.js";

/** The connect scenario's (bench/connect.ts). */
const CONNECT_TRANSPORTS = ["tcp", "zmq-ipc", "peer-shm", "peer-zmq"];

/** In report order. "lossy" is for the benchmark's tests and not run by default. */
export const TRANSPORTS = [
  "shm-event",
  "shm-futex",
  "shm-spin",
  "shm-loan",
  "shm-copy",
  "disruptor",
  "peer-shm",
  "peer-zmq",
  "tcp",
  "uds",
  "zmq-ipc",
  "zmq-router",
  "zmq-tcp",
  "child-ipc",
  "worker-port",
] as const;
export const TEST_TRANSPORTS = ["lossy"] as const;

/** The loan transports run only in pointcloud; pointcloud compares them with the sockets and ZeroMQ. */
const LOANS = ["shm-loan", "shm-copy"];
const CLOUD = [...LOANS, "tcp", "uds", "zmq-ipc", "zmq-tcp"];
/** shared-memory-disruptor: messages only (rtt, stream and the batch API's stream-batch). */
const DISRUPTOR_SCENARIOS = ["rtt", "stream", "stream-batch"];

/** The stream-batch scenario's: the transports with a batch API (Endpoint.sendMany/recvMany). */
const BATCH_TRANSPORTS = ["shm-event", "shm-futex", "shm-spin", "tcp", "uds", "zmq-ipc", "zmq-tcp"];

/** Whether `transport` has a row in `scenario` (when both are chosen). */
export function runsIn(transport: string, scenario: Scenario): boolean {
  if (scenario === "connect") return CONNECT_TRANSPORTS.includes(transport);
  if (transport === "disruptor") return DISRUPTOR_SCENARIOS.includes(scenario);
  if (scenario === "stream-batch") return BATCH_TRANSPORTS.includes(transport);
  return scenario === "pointcloud" ? CLOUD.includes(transport) : !LOANS.includes(transport);
}

export function makeTransport(name: string, cork = true, spinText = "adaptive"): AnyTransport {
  const spin = spinText === "adaptive" ? "adaptive" : spinText === "Infinity" || spinText === "inf" ? Infinity : Number(spinText);
  switch (name) {
    case "shm-event":
      return shmTransport("event", cork, spin);
    case "shm-futex":
      return shmTransport("futex", cork, spin);
    case "shm-spin":
      return shmTransport("spin", cork);
    case "shm-loan":
      return shmLoanTransport("loan", spin);
    case "shm-copy":
      return shmLoanTransport("copy", spin);
    case "disruptor":
      return disruptorTransport(cork);
    case "peer-shm":
      return peerTransport("shm");
    case "peer-zmq":
      return peerTransport("zmq");
    case "tcp":
      return tcpTransport(cork);
    case "uds":
      return udsTransport(cork);
    case "zmq-ipc":
      return zmqIpcTransport();
    case "zmq-router":
      return zmqRouterTransport();
    case "zmq-tcp":
      return zmqTcpTransport();
    case "child-ipc":
      return childIpcTransport();
    case "worker-port":
      return workerPortTransport();
    case "lossy":
      return lossyTransport();
    default:
      throw new Error(`unknown transport "${name}" (known: ${[...TRANSPORTS, ...TEST_TRANSPORTS].join(", ")})`);
  }
}

/** Why a transport cannot run here, or null if it can. */
export function unavailable(name: string): string | null {
  if ((name.startsWith("zmq-") || name.startsWith("peer-")) && !loadZmq()) return "the zeromq package is not installed";
  if (name === "zmq-ipc" && !ZMQ_IPC) return "ZeroMQ ipc:// endpoints (AF_UNIX) are not available on this platform";
  if (name === "disruptor" && !loadDisruptor()) return "the shared-memory-disruptor package is not installed or its addon did not build";
  return null;
}
