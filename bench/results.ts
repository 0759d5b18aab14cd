// What a benchmark run produces: one Row per transport, scenario and size,
// and the Report around them (the JSON schema documented in
// docs/BENCHMARKS.md, "Schema of --json").
import type { Machine } from "./machine.js";
import type { Scenario } from "./scenarios.js";

export interface Row {
  /** "shm", "tcp", "uds", "zmq-ipc", "zmq-tcp", "child-ipc", "worker-port", "memcpy". */
  transport: string;
  /** shm: "event" | "futex" | "spin"; null otherwise. */
  mode: string | null;
  scenario: Scenario;
  size: number;
  p50_us?: number;
  p99_us?: number;
  p999_us?: number;
  msgs_per_s?: number;
  mb_per_s?: number;
  ms?: number;
  cpu_us_per_msg?: number;
  rss_mb?: number;
  rss_mb_host?: number;
  rss_mb_peer?: number;
  /** bulk: how the bytes moved ("copy-in" through the ring; "loan" to come). */
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
  options: { quick: boolean; full: boolean; cork: boolean; spin: string; load: number; rounds: number; messages: number; iterations: number };
  results: Row[];
  /** Wall-clock seconds of the whole run. */
  duration_s?: number;
}

/** A row's name in tables: "shm-event", "tcp", ... */
export const label = (r: Row): string => (r.mode ? `${r.transport}-${r.mode}` : r.transport);
