// The result tables: one per scenario and size, every column marked "lower
// is better" or "higher is better", ratios to tcp always in words ("14×
// faster", "2.1× slower": faster is better either way), and a one-line
// conclusion under each.
import { formatNumber } from "../../lib/util/format.js";
import { label, sizeLabel, type Report, type Row } from "../results.js";

/** Which way a column is better; "faster" for the ratio columns (their cells say faster or slower). */
export type Better = "lower" | "higher" | "faster" | null;

export interface Column {
  head: string;
  better: Better;
}

export interface Table {
  title: string;
  columns: Column[];
  /** Measured rows: one cell per column. A failed or skipped row: [name, "FAILED: ..." | "skipped: ..."]. */
  rows: string[][];
  conclusion: string;
}

const num = (v: number | undefined): string => formatNumber(v);

/** "140×", "14×", "2.1×", "1.02×". */
export function times(x: number): string {
  if (x >= 99.5) return `${Math.round(x)}×`;
  return `${Number(x.toPrecision(x < 1.1 ? 3 : 2))}×`;
}

/**
 * `v` against `ref` in words: "N× faster" or "N× slower", where faster is
 * better: lower-is-better figures (latency, time) compare ref / v,
 * higher-is-better ones (throughput) v / ref.
 */
export function compare(v: number | undefined, ref: number | undefined, better: "lower" | "higher"): string {
  if (v === undefined || ref === undefined || !(v > 0) || !(ref > 0) || !Number.isFinite(v) || !Number.isFinite(ref)) return "-";
  const r = better === "lower" ? ref / v : v / ref;
  if (Math.abs(r - 1) < 0.005) return "same";
  return r > 1 ? `${times(r)} faster` : `${times(1 / r)} slower`;
}

const isNote = (r: string[]): boolean => /^(FAILED|skipped)/.test(r[1] ?? "");
export { isNote };

function noteRow(r: Row): string[] {
  return [label(r), (r.skipped ? "skipped: " : "FAILED: ") + r.error];
}

interface Spec {
  title: string;
  columns: Column[];
  cells(r: Row, tcp: Row | undefined, memcpy: Row | undefined): string[];
  /** The figure that decides "fastest", and its direction. */
  key: keyof Row;
  keyBetter: "lower" | "higher";
  /** "at 64 B round trip (p50 0.5 µs vs 70 µs)"-style tail of the conclusion. */
  what(best: Row, tcp: Row | undefined): string;
}

function specFor(scenario: Row["scenario"], size: number): Spec {
  const s = sizeLabel(scenario, size);
  const cost = (r: Row): string[] => [num(r.cpu_us_per_msg), num(r.rss_mb)];
  const vsTcp = (r: Row, tcp: Row | undefined, key: keyof Row, better: "lower" | "higher"): string =>
    r.transport === "tcp" ? "baseline" : compare(r[key] as number | undefined, tcp?.[key] as number | undefined, better);
  if (scenario === "rtt") {
    return {
      title: `rtt ${s}: round trip, one message in flight`,
      columns: [
        { head: "transport", better: null },
        { head: "p50 µs", better: "lower" },
        { head: "p99 µs", better: "lower" },
        { head: "p99.9 µs", better: "lower" },
        { head: "p50 vs tcp", better: "faster" },
        { head: "cpu µs/rt", better: "lower" },
        { head: "rss MB", better: "lower" },
      ],
      cells: (r, tcp) => [label(r), num(r.p50_us), num(r.p99_us), num(r.p999_us), vsTcp(r, tcp, "p50_us", "lower"), ...cost(r)],
      key: "p50_us",
      keyBetter: "lower",
      what: (b, tcp) => `at ${s} round trip (p50 ${num(b.p50_us)} µs${tcp && b !== tcp ? ` vs ${num(tcp.p50_us)} µs` : ""})`,
    };
  }
  if (scenario === "stream" || scenario === "stream-batch") {
    const batch = scenario === "stream-batch";
    return {
      title: batch ? `stream-batch ${s}: one way at saturation, through each transport's batch API` : `stream ${s}: one way at saturation`,
      columns: [
        { head: "transport", better: null },
        { head: "msgs/s", better: "higher" },
        { head: "MB/s", better: "higher" },
        { head: "msgs/s vs tcp", better: "faster" },
        { head: "cpu µs/msg", better: "lower" },
        { head: "rss MB", better: "lower" },
      ],
      cells: (r, tcp) => [label(r), num(r.msgs_per_s), num(r.mb_per_s), vsTcp(r, tcp, "msgs_per_s", "higher"), ...cost(r)],
      key: "msgs_per_s",
      keyBetter: "higher",
      what: (b, tcp) => `for a one-way stream of ${s} messages${batch ? " sent in batches" : ""} (${num(b.msgs_per_s)}${tcp && b !== tcp ? ` vs ${num(tcp.msgs_per_s)}` : ""} msgs/s)`,
    };
  }
  if (scenario === "connect") {
    return {
      title: "connect: from nothing to the first 64 B echo; peers: reconnect after the listener's restart",
      columns: [
        { head: "transport", better: null },
        { head: "p50 µs", better: "lower" },
        { head: "p99 µs", better: "lower" },
        { head: "p50 vs tcp", better: "faster" },
        { head: "reconnect p50 ms", better: "lower" },
        { head: "max ms", better: "lower" },
        { head: "to echo ms", better: "lower" },
      ],
      cells: (r, tcp) => [
        label(r),
        num(r.p50_us),
        num(r.p99_us),
        vsTcp(r, tcp, "p50_us", "lower"),
        r.reconnect_ms === undefined ? "-" : num(r.reconnect_ms),
        r.reconnect_max_ms === undefined ? "-" : num(r.reconnect_max_ms),
        r.reconnect_echo_ms === undefined ? "-" : num(r.reconnect_echo_ms),
      ],
      key: "p50_us",
      keyBetter: "lower",
      what: (b, tcp) => `to connect and exchange a first message (p50 ${num(b.p50_us)} µs${tcp && b !== tcp ? ` vs ${num(tcp.p50_us)} µs` : ""})`,
    };
  }
  if (scenario === "pointcloud") {
    return {
      title: `pointcloud ${s}: writer fills, reader has the view and reads every page, steady state`,
      columns: [
        { head: "transport", better: null },
        { head: "handoff p50 µs", better: "lower" },
        { head: "handoff p99 µs", better: "lower" },
        { head: "full p50 ms", better: "lower" },
        { head: "full p99 ms", better: "lower" },
        { head: "handoff vs tcp", better: "faster" },
        { head: "full vs tcp", better: "faster" },
      ],
      // CPU and RSS are in the JSON (cpu_us_per_msg, rss_mb): the table stays within 100 columns.
      cells: (r, tcp) => [
        label(r),
        num(r.handoff_p50_us),
        num(r.handoff_p99_us),
        num(r.ms),
        num(r.ms_p99),
        r.transport === "memcpy" ? "-" : vsTcp(r, tcp, "handoff_p50_us", "lower"),
        vsTcp(r, tcp, "ms", "lower"),
      ],
      key: "handoff_p50_us",
      keyBetter: "lower",
      what: (b, tcp) =>
        `to hand over a ${s} point cloud (p50 ${num(b.handoff_p50_us)} µs${tcp && b !== tcp ? ` vs ${num(tcp.handoff_p50_us)} µs` : ""})` +
        `; its full transfer ${num(b.ms)} ms${tcp && b !== tcp ? `, ${thanTcp(compare(b.ms, tcp.ms, "lower"))}` : ""}`,
    };
  }
  return {
    title: `bulk ${s}: one buffer, consumer reads every page (median)`,
    columns: [
      { head: "transport", better: null },
      { head: "ms", better: "lower" },
      { head: "MB/s", better: "higher" },
      { head: "time vs tcp", better: "faster" },
      { head: "time vs memcpy", better: "faster" },
      { head: "cpu µs/xfer", better: "lower" },
      { head: "rss MB", better: "lower" },
    ],
    cells: (r, tcp, memcpy) => [
      label(r),
      num(r.ms),
      num(r.mb_per_s),
      vsTcp(r, tcp, "ms", "lower"),
      r.transport === "memcpy" ? "floor" : compare(r.ms, memcpy?.ms, "lower"),
      ...cost(r),
    ],
    key: "ms",
    keyBetter: "lower",
    what: (b, tcp) => `for one ${s} buffer (${num(b.ms)} ms${tcp && b !== tcp ? ` vs ${num(tcp.ms)} ms` : ""})`,
  };
}

/** A comparison in a sentence: "14× faster than tcp", "as fast as tcp". */
const thanTcp = (words: string): string => (words === "same" ? "as fast as tcp" : `${words} than tcp`);

/** "Fastest: shm-spin, 140× faster than tcp at 64 B round trip (...); the default shm-event: 78× faster." */
function conclude(spec: Spec, rows: Row[], tcp: Row | undefined): string {
  const measured = rows.filter((r) => !r.error && r.transport !== "memcpy" && Number.isFinite(r[spec.key] as number));
  if (measured.length === 0) return "No row produced figures.";
  const v = (r: Row): number => r[spec.key] as number;
  const best = measured.reduce((a, b) => (spec.keyBetter === "lower" ? (v(b) < v(a) ? b : a) : v(b) > v(a) ? b : a));
  const vs = tcp && best !== tcp ? `, ${thanTcp(compare(v(best), v(tcp), spec.keyBetter))}` : "";
  let line = `Fastest: ${label(best)}${vs} ${spec.what(best, tcp)}.`;
  const dflt = measured.find((r) => label(r) === "shm-event");
  if (dflt && dflt !== best && tcp) line = line.slice(0, -1) + `; the default shm-event: ${thanTcp(compare(v(dflt), v(tcp), spec.keyBetter))}.`;
  return line;
}

export function tablesOf(report: Report): Table[] {
  const groups = new Map<string, Row[]>();
  for (const r of report.results) {
    const k = `${r.scenario} ${r.size}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  const tables: Table[] = [];
  for (const rows of groups.values()) {
    const { scenario, size } = rows[0]!;
    const spec = specFor(scenario, size);
    const tcp = rows.find((r) => r.transport === "tcp" && !r.error);
    const memcpy = rows.find((r) => r.transport === "memcpy" && !r.error);
    tables.push({
      title: spec.title,
      columns: spec.columns,
      rows: rows.map((r) => (r.error ? noteRow(r) : spec.cells(r, tcp, memcpy))),
      conclusion: conclude(spec, rows, tcp),
    });
  }
  return tables;
}

/** "lower is better", "higher is better", "faster is better", or "" (the transport column). */
export const direction = (c: Column): string => (c.better ? `${c.better} is better` : "");

/** The same, short, for a terminal's second header row: "lower=better". */
export const directionShort = (c: Column): string => (c.better ? `${c.better}=better` : "");
