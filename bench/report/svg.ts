// The SVG chart beside the Markdown report: round-trip latency by size and
// transport, p50 as bars and p99 as ticks, on a log scale.
import { formatBytes, formatNumber } from "../../lib/util/format.js";
import { label, type Report } from "../results.js";

const COLORS = ["#1f77b4", "#2ca02c", "#17becf", "#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f", "#bcbd22", "#e377c2"];

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
      out.push(`<rect x="${x.toFixed(1)}" y="${yb.toFixed(1)}" width="${(barW * 0.9).toFixed(1)}" height="${(H - bottom - yb).toFixed(1)}" fill="${COLORS[ni % COLORS.length]}"><title>${name} ${formatBytes(size)}: p50 ${formatNumber(r.p50_us)} µs, p99 ${formatNumber(r.p99_us)} µs</title></rect>`);
      if (r.p99_us) {
        const y99 = y(r.p99_us);
        out.push(`<line x1="${x.toFixed(1)}" x2="${(x + barW * 0.9).toFixed(1)}" y1="${y99.toFixed(1)}" y2="${y99.toFixed(1)}" stroke="black" stroke-width="2"/>`);
      }
    });
    out.push(`<text x="${(gx + groupW * 0.4).toFixed(1)}" y="${H - bottom + 18}" text-anchor="middle">${formatBytes(size)}</text>`);
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
