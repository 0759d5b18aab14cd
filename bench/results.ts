// What a benchmark run produces: one Row per transport, scenario and size,
// and the Report around them (the JSON schema documented in
// docs/BENCHMARKS.md, "Schema of --json").
import { formatBytes } from "../lib/util/format.js";
import type { Machine } from "./machine.js";
import type { Scenario } from "./scenarios.js";

export interface Row {
  /** "shm", "tcp", "uds", "zmq-ipc", "zmq-tcp", "child-ipc", "worker-port", "memcpy". */
  transport: string;
  /** shm: "event" | "futex" | "spin" (rtt, stream, bulk), "loan" | "copy" (pointcloud); null otherwise. */
  mode: string | null;
  scenario: Scenario;
  size: number;
  p50_us?: number;
  p99_us?: number;
  p999_us?: number;
  msgs_per_s?: number;
  mb_per_s?: number;
  /** bulk: median time per transfer; pointcloud: median full transfer (fill -> reader read every page -> ack back). */
  ms?: number;
  /** pointcloud: p99 of the full transfer, with at least 100 transfers. */
  ms_p99?: number;
  /** pointcloud: send -> the reader has the view (both processes' CLOCK_MONOTONIC), µs. */
  handoff_p50_us?: number;
  handoff_p99_us?: number;
  /** pointcloud, shm: loan slabs the writer's pool created during the timed transfers (0 in steady state). */
  slabs_created_timed?: number;
  /** connect (peer rows): the listener killed and started again: its listen() returning -> the Peer "connected" again, median and worst, ms. */
  reconnect_ms?: number;
  reconnect_max_ms?: number;
  /** connect (peer rows): its listen() returning -> the first echo over the new connection, median, ms. */
  reconnect_echo_ms?: number;
  cpu_us_per_msg?: number;
  rss_mb?: number;
  rss_mb_host?: number;
  rss_mb_peer?: number;
  /** bulk, pointcloud: how the bytes moved: "copy-in" (bulk: through the ring; pointcloud: send() copies into a loan), "loan" (filled in place), "send", "memcpy". */
  method?: string;
  /** Messages (or transfers) the figures are based on. */
  count?: number;
  /** Wall-clock seconds the row took, process starts included. */
  wall_s?: number;
  /** The row did not produce figures: why (lost or reordered message, timeout, ...). */
  error?: string;
  skipped?: boolean;
}

export interface Report {
  version: 1;
  machine: Machine;
  options: {
    quick: boolean;
    full: boolean;
    cork: boolean;
    spin: string;
    load: number;
    rounds: number;
    messages: number;
    iterations: number;
    /** --transfers (pointcloud); null or absent: by size. */
    transfers?: number | null;
  };
  results: Row[];
  /** Wall-clock seconds of the whole run. */
  duration_s?: number;
}

/** A row's name in tables: "shm-event", "tcp", ... */
export const label = (r: Row): string => (r.mode ? `${r.transport}-${r.mode}` : r.transport);

/** A size as tables and progress show it: point clouds in decimal units where exact ("10 MB", "1 GB"), others binary. */
export function sizeLabel(scenario: Scenario, size: number): string {
  if (scenario === "pointcloud") {
    if (size >= 1e9 && size % 1e9 === 0) return `${size / 1e9} GB`;
    if (size >= 1e6 && size % 1e6 === 0) return `${size / 1e6} MB`;
  }
  return formatBytes(size);
}
