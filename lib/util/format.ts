// The one set of formatters for what the CLI and the benchmark print:
// bytes, durations and ages, plain numbers, and local dates.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/**
 * Bytes in binary units, exact where the number is a whole multiple ("64 B",
 * "4 KiB", "100 MiB", "1 GiB"), else three significant digits ("1.5 KiB",
 * "118 MiB").
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "-";
  let unit = 0;
  let v = Math.abs(n);
  while (v >= 1024 && unit < UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  const text = Number.isInteger(v) || v >= 100 ? String(Math.round(v)) : String(Number(v.toPrecision(3)));
  return `${n < 0 ? "-" : ""}${text} ${UNITS[unit]}`;
}

/**
 * A duration for people: "850 ms", "4.2 s", "42 s", "3 min 05 s",
 * "2 h 05 min", "3 d 04 h".
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 9950) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const two = (x: number): string => String(x).padStart(2, "0");
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${two(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${two(Math.floor(s / 60) % 60)} min`;
  return `${Math.floor(s / 86400)} d ${two(Math.floor(s / 3600) % 24)} h`;
}

/** How long ago: "12 s ago", "3 min 05 s ago". */
export function formatAge(ms: number): string {
  return `${formatDuration(Math.max(0, ms))} ago`;
}

/**
 * A number for a table: three significant digits below 1000 ("0.891",
 * "70.1", "389"), whole numbers with separators up to a million ("1,939"),
 * then millions ("7.29 M"). "-" for a missing value.
 */
export function formatNumber(v: number | undefined | null, digits = 3): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return "-";
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  return Number(v.toPrecision(digits)).toString();
}

/** Local time in ISO 8601 with the UTC offset, to the second: "2026-11-22T14:03:05+01:00". */
export function formatLocalTime(d: Date): string {
  const two = (x: number): string => String(x).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const zone = `${off >= 0 ? "+" : "-"}${two(Math.floor(Math.abs(off) / 60))}:${two(Math.abs(off) % 60)}`;
  return (
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}` +
    `T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}${zone}`
  );
}
