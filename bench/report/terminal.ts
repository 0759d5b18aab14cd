// The results as the terminal shows them: header, warnings, legend, tables
// (with a direction row under the column names and a conclusion under each),
// warnings again at the bottom.
import { formatDuration, formatLocalTime } from "../../lib/util/format.js";
import type { Report } from "../results.js";
import { conditionsLine, machineLine } from "./header.js";
import { HOW_TO_READ, legendFor } from "./legend.js";
import { namesOf } from "./markdown.js";
import { directionShort, isNote, tablesOf } from "./tables.js";
import { wrap } from "./warnings.js";

const WIDTH = 100;

export function renderReport(report: Report): string {
  const out: string[] = [];
  const warnings = report.machine.warnings ?? [];
  const block = (): void => {
    for (const w of warnings) out.push("", wrap(w, WIDTH, "  "));
  };
  out.push("", `@synaptic-mesh/shm benchmark, ${formatLocalTime(new Date(report.machine.date))}${report.duration_s ? `, took ${formatDuration(report.duration_s * 1000)}` : ""}`);
  out.push(machineLine(report), `conditions: ${conditionsLine(report)}`);
  block();
  const names = namesOf(report);
  const w = Math.max(...names.map((n) => n.length));
  out.push("", "What the rows are:");
  for (const [name, text] of legendFor(names)) out.push(wrap(text, WIDTH, " ".repeat(w + 4), `  ${name.padEnd(w)}  `));
  out.push("", "How to read the tables:");
  for (const line of HOW_TO_READ) out.push(wrap(line, WIDTH, "    ", "  - "));
  for (const t of tablesOf(report)) {
    const measured = t.rows.filter((r) => !isNote(r));
    const dir = t.columns.map(directionShort);
    const widths = t.columns.map((c, i) => Math.max(c.head.length, dir[i]!.length, ...measured.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]): string =>
      cells
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join("  ")
        .trimEnd();
    out.push("", t.title, line(t.columns.map((c) => c.head)), line(dir));
    for (const r of t.rows) out.push(isNote(r) ? `${r[0]!.padEnd(widths[0]!)}  ${r[1]}` : line(r));
    out.push(wrap(t.conclusion, WIDTH, "   ", "=> "));
  }
  block();
  return out.join("\n");
}

export function printReport(report: Report): void {
  console.log(renderReport(report) + "\n");
}
