// The benchmark's outputs: terminal tables with ratios to TCP, the JSON
// file, and a Markdown report with an SVG latency chart.
import { writeFileSync } from "node:fs";
import * as path from "node:path";

import { formatSize } from "./options.js";
import type { Report, Row } from "./run.js";
import type { Scenario } from "./scenarios.js";

const label = (r: Row): string => (r.mode ? `${r.transport}-${r.mode}` : r.transport);

function num(v: number | undefined, digits = 3): string {
  if (v === undefined || !Number.isFinite(v)) return "-";
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1000) return Math.round(v).toLocaleString("en-US");
  return Number(v.toPrecision(digits)).toString();
}

const ratio = (v: number | undefined, ref: number | undefined): string =>
  v === undefined || ref === undefined || !Number.isFinite(v) || !Number.isFinite(ref) || ref === 0 ? "-" : `${Number((v / ref).toPrecision(3))}x`;

interface Table {
  title: string;
  head: string[];
  rows: string[][];
}

function tablesOf(report: Report): Table[] {
  const tables: Table[] = [];
  const groups = new Map<string, Row[]>();
  for (const r of report.results) {
    const k = `${r.scenario} ${r.size}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  for (const rows of groups.values()) {
    const { scenario, size } = rows[0]!;
    const tcp = rows.find((r) => r.transport === "tcp" && !r.error);
    const memcpy = rows.find((r) => r.transport === "memcpy" && !r.error);
    const cost = (r: Row): string[] => [num(r.cpu_us_per_msg), num(r.rss_mb)];
    const failed = (r: Row, width: number): string[] => [label(r), (r.skipped ? "skipped: " : "FAILED: ") + r.error, ...Array(width - 2).fill("")];
    let t: Table;
    if (scenario === "rtt") {
      t = {
        title: `rtt ${formatSize(size)}: round trip, one message in flight`,
        head: ["transport", "p50 µs", "p99 µs", "p99.9 µs", "p50 vs tcp", "cpu µs/rt", "rss MB"],
        rows: rows.map((r) => (r.error ? failed(r, 7) : [label(r), num(r.p50_us), num(r.p99_us), num(r.p999_us), ratio(r.p50_us, tcp?.p50_us), ...cost(r)])),
      };
    } else if (scenario === "stream") {
      t = {
        title: `stream ${formatSize(size)}: one way at saturation`,
        head: ["transport", "msgs/s", "MB/s", "msgs/s vs tcp", "cpu µs/msg", "rss MB"],
        rows: rows.map((r) => (r.error ? failed(r, 6) : [label(r), num(r.msgs_per_s), num(r.mb_per_s), ratio(r.msgs_per_s, tcp?.msgs_per_s), ...cost(r)])),
      };
    } else {
      t = {
        title: `bulk ${formatSize(size)}: one buffer, consumer reads every page (median)`,
        head: ["transport", "ms", "MB/s", "time vs tcp", "time vs memcpy", "cpu µs/xfer", "rss MB"],
        rows: rows.map((r) =>
          r.error ? failed(r, 7) : [label(r), num(r.ms), num(r.mb_per_s), ratio(r.ms, tcp?.ms), ratio(r.ms, memcpy?.ms), ...cost(r)],
        ),
      };
    }
    tables.push(t);
  }
  return tables;
}

function machineLine(report: Report): string {
  const m = report.machine;
  return `${m.cpu}, ${m.cores} cores, ${m.memory_gb} GiB, ${m.kernel}, Node ${m.node}`;
}

/** Loaded or idle, pinned or not, load average: what the figures were measured under. */
export function conditionsLine(report: Report): string {
  const m = report.machine;
  const loops = m.busy_loops ?? 0; // reports written before --load existed lack the field
  const load =
    loops > 0
      ? `loaded: ${loops} busy loop${loops === 1 ? "" : "s"} ${m.busy_cores ? `pinned to core${m.busy_cores.length === 1 ? "" : "s"} ${m.busy_cores.join(",")}` : "not pinned (no taskset)"}`
      : "idle: no busy loops";
  const share = loops > 0 && typeof m.busy_cpu_share === "number" ? ` (each got ${Math.round(m.busy_cpu_share * 100)}% of a core)` : "";
  const avg = m.loadavg.map((x) => x.toFixed(2)).join(" ");
  return `${load}${share}; host and peer ${m.pinned ? "pinned to cores 0 and 1" : "not pinned"}; load average at start ${avg}`;
}

export function printTables(report: Report): void {
  console.log(`\n${machineLine(report)}\nconditions: ${conditionsLine(report)}`);
  for (const t of tablesOf(report)) {
    const isNote = (r: string[]): boolean => /^(FAILED|skipped)/.test(r[1] ?? "");
    const measured = t.rows.filter((r) => !isNote(r));
    const widths = t.head.map((h, i) => Math.max(h.length, ...measured.map((r) => (r[i] ?? "").length)));
    console.log(`\n${t.title}`);
    const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
    console.log(line(t.head));
    for (const r of t.rows) console.log(isNote(r) ? `${r[0]!.padEnd(widths[0]!)}  ${r[1]}` : line(r));
  }
  console.log("");
}

export function writeJson(file: string, report: Report): void {
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
}

const COLORS = ["#1f77b4", "#2ca02c", "#17becf", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f"];

/** Grouped bars of rtt p50 (with a p99 tick) by size and transport, log scale. */
export function latencySvg(report: Report): string {
  const rows = report.results.filter((r) => r.scenario === "rtt" && !r.error && r.p50_us! > 0);
  const sizes = [...new Set(rows.map((r) => r.size))];
  const names = [...new Set(rows.map(label))];
  const W = 760;
  const H = 380;
  const left = 60;
  const right = 170;
  const top = 30;
  const bottom = 50;
  const vals = rows.flatMap((r) => [r.p50_us!, r.p99_us ?? r.p50_us!]);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...vals, 1))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...vals, 10))));
  const y = (v: number): number => top + (H - top - bottom) * (1 - (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)));
  const groupW = (W - left - right) / Math.max(1, sizes.length);
  const barW = (groupW * 0.8) / Math.max(1, names.length);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${left}" y="18" font-size="14">Round-trip latency p50 (bar) and p99 (tick), µs, log scale</text>`);
  for (let v = lo; v <= hi; v *= 10) {
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v >= 1 ? v : v.toPrecision(1)}</text>`);
  }
  sizes.forEach((size, gi) => {
    const gx = left + gi * groupW + groupW * 0.1;
    names.forEach((name, ni) => {
      const r = rows.find((x) => x.size === size && label(x) === name);
      if (!r) return;
      const x = gx + ni * barW;
      const yb = y(r.p50_us!);
      out.push(`<rect x="${x.toFixed(1)}" y="${yb.toFixed(1)}" width="${(barW * 0.9).toFixed(1)}" height="${(H - bottom - yb).toFixed(1)}" fill="${COLORS[ni % COLORS.length]}"><title>${name} ${formatSize(size)}: p50 ${num(r.p50_us)} µs, p99 ${num(r.p99_us)} µs</title></rect>`);
      if (r.p99_us) {
        const y99 = y(r.p99_us);
        out.push(`<line x1="${x.toFixed(1)}" x2="${(x + barW * 0.9).toFixed(1)}" y1="${y99.toFixed(1)}" y2="${y99.toFixed(1)}" stroke="black" stroke-width="2"/>`);
      }
    });
    out.push(`<text x="${(gx + groupW * 0.4).toFixed(1)}" y="${H - bottom + 18}" text-anchor="middle">${formatSize(size)}</text>`);
  });
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${H - bottom}" stroke="black"/>`);
  out.push(`<line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" stroke="black"/>`);
  out.push(`<text x="${(left + (W - right)) / 2}" y="${H - 10}" text-anchor="middle">message size</text>`);
  names.forEach((name, ni) => {
    const ly = top + 10 + ni * 20;
    out.push(`<rect x="${W - right + 15}" y="${ly - 10}" width="12" height="12" fill="${COLORS[ni % COLORS.length]}"/>`);
    out.push(`<text x="${W - right + 33}" y="${ly}">${name}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

export function writeMarkdown(file: string, report: Report): void {
  const svgFile = file.replace(/\.md$/i, "") + "-latency.svg";
  writeFileSync(svgFile, latencySvg(report));
  const md: string[] = [];
  md.push(`# @synaptic-mesh/shm benchmark`, "");
  md.push(`Run ${report.machine.date} on ${machineLine(report)}.`, "");
  md.push(`Conditions: ${conditionsLine(report)}.`, "");
  md.push(
    `Two processes per row, fresh for every row. Ratios are to Node TCP loopback in the same run. ` +
      `cpu: user+system time of both processes per round trip, message or transfer; rss: the larger peak RSS of the two.`,
    "",
  );
  md.push(`![round-trip latency](${path.basename(svgFile)})`, "");
  for (const t of tablesOf(report)) {
    md.push(`## ${t.title}`, "");
    md.push(`| ${t.head.join(" | ")} |`);
    md.push(`|${t.head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
    for (const r of t.rows) md.push(`| ${r.join(" | ")} |`);
    md.push("");
  }
  writeFileSync(file, md.join("\n"));
}

export type { Scenario };
