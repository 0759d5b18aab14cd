// The one command-line parser of the CLI and the benchmarks: node:util
// parseArgs (no dependency) with the checks and messages a user needs.
// Accepts "--opt value" and "--opt=value", "-h", and "--" before arguments
// that start with a dash. A mistake throws UsageError (the commands exit 2).
import { parseArgs } from "node:util";

export class UsageError extends Error {}

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /**
   * A string option whose value may be left out ("--load" alone or
   * "--load 3"): a following argument is its value only if it matches this;
   * left out, the value is "". "--load=3" always works.
   */
  optionalValue?: RegExp;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface ParsedArgs {
  /** Option name -> value (string options) or true (boolean ones); absent if not given. Repeated: the last wins. */
  values: Record<string, string | true>;
  positionals: string[];
}

/** "--load" "3" -> "--load=3"; a bare "--load" -> "--load=" (its value left out). */
function expandOptionalValues(argv: string[], specs: OptionSpecs): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const spec = a.startsWith("--") && !a.includes("=") ? specs[a.slice(2)] : undefined;
    if (spec?.optionalValue) {
      const next = argv[i + 1];
      if (next !== undefined && spec.optionalValue.test(next)) {
        out.push(`${a}=${next}`);
        i++;
      } else out.push(`${a}=`);
    } else out.push(a);
  }
  return out;
}

/**
 * Parses `argv` against `specs`. `positionals` is how many plain arguments
 * are allowed (default none). Throws UsageError for an unknown option, a
 * missing value, a value given to a flag, or an unexpected argument.
 */
export function parseCommandLine(argv: string[], specs: OptionSpecs, positionals = 0): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, s] of Object.entries(specs)) options[name] = s.short ? { type: s.type, short: s.short } : { type: s.type };
  // Not strict: the tokens come back, so the messages below name the user's own spelling.
  const { tokens } = parseArgs({ args: expandOptionalValues(argv, specs), options, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | true> = {};
  const rest: string[] = [];
  for (const t of tokens) {
    if (t.kind === "positional") {
      rest.push(t.value);
      if (rest.length > positionals) throw new UsageError(`unexpected argument "${t.value}"`);
      continue;
    }
    if (t.kind !== "option") continue; // the "--" terminator
    const spec = Object.hasOwn(specs, t.name) ? specs[t.name] : undefined;
    if (!spec) throw new UsageError(`unknown option "${t.rawName}"`);
    if (spec.type === "boolean") {
      if (t.value !== undefined) throw new UsageError(`${t.rawName} takes no value`);
      values[t.name] = true;
      continue;
    }
    // parseArgs (not strict) takes "--rounds --quick" as rounds="--quick": refuse that.
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith("-"))) {
      throw new UsageError(`${t.rawName} needs a value (a value that starts with "-" goes as ${t.rawName}=VALUE)`);
    }
    values[t.name] = t.value;
  }
  return { values, positionals: rest };
}

/** A whole number >= min from option `flag`'s text. */
export function parseInteger(flag: string, text: string, min = 1): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${flag} ${text}: needs a whole number${min === 1 ? " of at least 1" : min === 0 ? "" : ` of at least ${min}`}`);
  }
  return n;
}
