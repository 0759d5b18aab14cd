// The shared pieces behind the CLI and the benchmark: the one argument
// parser (node:util parseArgs) and the one set of formatters.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { UsageError, parseCommandLine, parseInteger } from "../../dist/lib/util/args.js";
import { formatAge, formatBytes, formatDuration, formatLocalTime, formatNumber } from "../../dist/lib/util/format.js";
import { startDate } from "../../dist/lib/util/start-time.js";

const SPECS = {
  rounds: { type: "string" as const },
  quick: { type: "boolean" as const },
  help: { type: "boolean" as const, short: "h" },
  load: { type: "string" as const, optionalValue: /^\d+$/ },
};

describe("parseCommandLine", () => {
  it("takes --opt=value and --opt value alike; the last repeat wins", () => {
    expect(parseCommandLine(["--rounds=5"], SPECS).values).toEqual({ rounds: "5" });
    expect(parseCommandLine(["--rounds", "5"], SPECS).values).toEqual({ rounds: "5" });
    expect(parseCommandLine(["--rounds", "5", "--rounds=7", "-h"], SPECS).values).toEqual({ rounds: "7", help: true });
    expect(parseCommandLine(["--rounds=-3"], SPECS).values).toEqual({ rounds: "-3" });
  });

  it("an optional value: --load, --load 3, --load=3", () => {
    expect(parseCommandLine(["--load"], SPECS).values).toEqual({ load: "" });
    expect(parseCommandLine(["--load", "--quick"], SPECS).values).toEqual({ load: "", quick: true });
    expect(parseCommandLine(["--load", "3", "--quick"], SPECS).values).toEqual({ load: "3", quick: true });
    expect(parseCommandLine(["--load=3"], SPECS).values).toEqual({ load: "3" });
    expect(() => parseCommandLine(["--load", "two"], SPECS)).toThrow(/unexpected argument "two"/);
  });

  it("positionals up to the allowed count, and after --", () => {
    expect(parseCommandLine(["a", "--quick"], SPECS, 1)).toEqual({ values: { quick: true }, positionals: ["a"] });
    expect(parseCommandLine(["--", "-a"], SPECS, 1).positionals).toEqual(["-a"]);
    expect(() => parseCommandLine(["a", "b"], SPECS, 1)).toThrow(/unexpected argument "b"/);
  });

  it("says what is wrong, as a UsageError", () => {
    const cases: [string[], RegExp][] = [
      [["--bogus"], /unknown option "--bogus"/],
      [["-x"], /unknown option "-x"/],
      [["--quick=1"], /--quick takes no value/],
      [["--rounds"], /--rounds needs a value/],
      [["--rounds", "--quick"], /--rounds needs a value/],
      [["--toString"], /unknown option "--toString"/],
    ];
    for (const [argv, re] of cases) {
      expect(() => parseCommandLine(argv, SPECS), argv.join(" ")).toThrow(UsageError);
      expect(() => parseCommandLine(argv, SPECS), argv.join(" ")).toThrow(re);
    }
    expect(parseInteger("rounds", "12")).toBe(12);
    expect(() => parseInteger("rounds", "0")).toThrow(/--rounds 0: needs a whole number of at least 1/);
    expect(() => parseInteger("rounds", "1e3")).toThrow(UsageError);
    expect(parseInteger("load", "0", 0)).toBe(0);
  });
});

describe("formatters", () => {
  it("bytes: exact binary units where whole, else three digits", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(64)).toBe("64 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1 KiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(65536)).toBe("64 KiB");
    expect(formatBytes(100 << 20)).toBe("100 MiB");
    expect(formatBytes(123456789)).toBe("118 MiB");
    expect(formatBytes(2 ** 30)).toBe("1 GiB");
  });

  it("durations and ages for people", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(4200)).toBe("4.2 s");
    expect(formatDuration(42_000)).toBe("42 s");
    expect(formatDuration(185_000)).toBe("3 min 05 s");
    expect(formatDuration(2 * 3600_000 + 5 * 60_000)).toBe("2 h 05 min");
    expect(formatDuration(3 * 86400_000 + 4 * 3600_000)).toBe("3 d 04 h");
    expect(formatAge(185_000)).toBe("3 min 05 s ago");
  });

  it("numbers and local dates", () => {
    expect(formatNumber(0.8912)).toBe("0.891");
    expect(formatNumber(1939.4)).toBe("1,939");
    expect(formatNumber(7_290_000)).toBe("7.29 M");
    expect(formatNumber(undefined)).toBe("-");
    const d = new Date(2026, 10, 22, 14, 3, 5);
    expect(formatLocalTime(d)).toMatch(/^2026-11-22T14:03:05[+-]\d\d:\d\d$/);
  });

  it("a process start time in ticks since boot becomes a date", () => {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]); // field 22
    const d = startDate(ticks)!;
    const age = Date.now() - d.getTime();
    expect(age).toBeGreaterThan(-2000); // this process started moments ago
    expect(age).toBeLessThan(60 * 60_000);
    expect(startDate(0)).toBeNull();
  });
});
