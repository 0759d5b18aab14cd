// The Markdown report (and the SVG chart beside it) and the JSON file.
import { writeFileSync } from "node:fs";
import * as path from "node:path";

import { formatDuration, formatLocalTime } from "../../lib/util/format.js";
import { label, type Report } from "../results.js";
import { conditionsLine, machineLine } from "./header.js";
import { HOW_TO_READ, legendFor } from "./legend.js";
import { latencySvg } from "./svg.js";
import { direction, isNote, tablesOf } from "./tables.js";

export function writeJson(file: string, report: Report): void {
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
}

/** Row names in report order, memcpy first where present. */
export function namesOf(report: Report): string[] {
  return [...new Set(report.results.map(label))];
}

export function markdown(report: Report, svgName: string | null): string {
  const md: string[] = [];
  const warnings = report.machine.warnings ?? [];
  const when = formatLocalTime(new Date(report.machine.date));
  md.push(`# @synaptic-mesh/shm benchmark`, "");
  md.push(`Run ${when} on ${machineLine(report)}${report.duration_s ? `; took ${formatDuration(report.duration_s * 1000)}` : ""}.`, "");
  md.push(`Conditions: ${conditionsLine(report)}.`, "");
  for (const w of warnings) md.push(`> **${w.replace(/^(WARNING|NOTE): /, "$1:** ")}`, "");
  md.push("## What the rows are", "");
  for (const [name, text] of legendFor(namesOf(report))) md.push(`- **${name}**: ${text}`);
  md.push("", "## How to read the tables", "");
  for (const line of HOW_TO_READ) md.push(`- ${line}`);
  md.push("");
  if (svgName) md.push(`![round-trip latency](${svgName})`, "");
  for (const t of tablesOf(report)) {
    md.push(`## ${t.title}`, "");
    md.push(`| ${t.columns.map((c) => (c.better ? `${c.head} (${direction(c)})` : c.head)).join(" | ")} |`);
    md.push(`|${t.columns.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
    for (const r of t.rows) md.push(`| ${isNote(r) ? [r[0], r[1], ...Array(t.columns.length - 2).fill("")].join(" | ") : r.join(" | ")} |`);
    md.push("", t.conclusion, "");
  }
  for (const w of warnings) md.push(`> **${w.replace(/^(WARNING|NOTE): /, "$1:** ")}`, "");
  return md.join("\n");
}

/** Writes `file` (Markdown) and the latency chart beside it (NAME-latency.svg). */
export function writeMarkdown(file: string, report: Report): void {
  const svgFile = file.replace(/\.md$/i, "") + "-latency.svg";
  const hasRtt = report.results.some((r) => r.scenario === "rtt" && !r.error);
  if (hasRtt) writeFileSync(svgFile, latencySvg(report));
  writeFileSync(file, markdown(report, hasRtt ? path.basename(svgFile) : null));
}
