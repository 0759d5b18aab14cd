// The published types show the public API only: what lib/ marks @internal
// is stripped from dist/lib/**/*.d.ts (tsconfig stripInternal), and a
// dependent compiles against those .d.ts with full checking, with `using`,
// and cannot reach the internals.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

import { ROOT } from "../helpers.js";

const MODIFIERS = "export|declare|default|public|protected|private|static|readonly|abstract|async|override|get|set|class|interface|function|const|let|var|type|enum|namespace";

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(ext) && !f.endsWith(`.d${ext}`))
    .map((f) => path.join(dir, f));
}

/** The text between the parenthesis at `open` and its match. */
function parens(s: string, open: number): string {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "(") depth++;
    else if (s[i] === ")" && --depth === 0) return s.slice(open + 1, i);
  }
  return s.slice(open + 1);
}

/** Parameters compared without layout: "{ kind: number }" in a source is "{\n kind: number;\n}" in a .d.ts. */
const squash = (s: string): string => s.replace(/\s+/g, "").replace(/;}/g, "}");

interface Decl {
  name: string;
  /** Parameter list of a method or function (to tell one overload from another), null for anything else. */
  params: string | null;
}

/** The declarations that follow a JSDoc comment containing @internal. */
function internals(source: string): Decl[] {
  const out: Decl[] = [];
  const doc = /\/\*\*([\s\S]*?)\*\/\s*/g;
  for (let m = doc.exec(source); m !== null; m = doc.exec(source)) {
    if (!/@internal\b/.test(m[1]!)) continue;
    const rest = source.slice(doc.lastIndex);
    const d = new RegExp(`^(?:(?:${MODIFIERS})\\s+)*([A-Za-z_$][\\w$]*)\\s*\\??\\s*`).exec(rest);
    if (!d) continue;
    out.push({ name: d[1]!, params: rest[d[0].length] === "(" ? squash(parens(rest, d[0].length)) : null });
  }
  return out;
}

/** Declarations of `name` in a .d.ts (one per line there), with their parameter lists. */
function declarations(dts: string, name: string): Decl[] {
  const re = new RegExp(`^[ \\t]*(?:\\/\\*\\*.*?\\*\\/\\s*)?(?:(?:${MODIFIERS})\\s+)*${name.replace(/\$/g, "\\$")}\\b\\s*\\??\\s*`, "gm");
  const out: Decl[] = [];
  for (let m = re.exec(dts); m !== null; m = re.exec(dts)) {
    const at = m.index + m[0].length;
    out.push({ name, params: dts[at] === "(" ? squash(parens(dts, at)) : null });
  }
  return out;
}

describe("published types", () => {
  const lib = path.join(ROOT, "lib");
  const sources = files(lib, ".ts");

  it("no declaration marked @internal in lib/ appears in dist/lib/**/*.d.ts", () => {
    const marked: string[] = [];
    const leaks: string[] = [];
    for (const src of sources) {
      const rel = path.relative(lib, src);
      const dts = readFileSync(path.join(ROOT, "dist", "lib", rel.replace(/\.ts$/, ".d.ts")), "utf8");
      expect(dts, rel).not.toMatch(/@internal/); // stripInternal is on
      for (const d of internals(readFileSync(src, "utf8"))) {
        marked.push(d.name);
        // An internal overload may share its name with a public one: same parameters = the same declaration.
        const found = declarations(dts, d.name).filter((x) => d.params === null || x.params === null || x.params === d.params);
        if (found.length > 0) leaks.push(`${rel}: ${d.name}${d.params === null ? "" : `(${d.params})`}`);
      }
    }
    expect(marked).toEqual(expect.arrayContaining(["handle", "token", "SegmentInternalOptions", "create", "attach", "segment", "hdr", "parker"]));
    expect(leaks).toEqual([]);
  });

  it("a dependent type-checks against them (skipLibCheck off, `using`), and internals are out of its reach", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "smsh-types-"));
    try {
      mkdirSync(path.join(dir, "node_modules", "@synaptic-mesh"), { recursive: true });
      symlinkSync(ROOT, path.join(dir, "node_modules", "@synaptic-mesh", "shm"));
      writeFileSync(
        path.join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "es2022",
            module: "nodenext",
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ["node"],
            typeRoots: [path.join(ROOT, "node_modules", "@types")],
          },
          files: ["app.ts"],
        }),
      );
      writeFileSync(
        path.join(dir, "app.ts"),
        `import { Channel, ChannelReader, ChannelWriter, KeptMessage, Segment, addonPath, type ShmError } from "@synaptic-mesh/shm";
export async function main(): Promise<string | null> {
  using seg = Segment.create({ size: 4096 });
  seg.data[0] = 1;
  await using tx = Channel.create({ capacity: 1024 });
  using rx: ChannelReader = Channel.attach(tx.name);
  await tx.send(new Uint8Array(8));
  (await rx.recv()).byteLength;
  using kept: KeptMessage = rx.keep();
  const e = new Error() as ShmError;
  // @ts-expect-error internal
  seg.handle;
  // @ts-expect-error internal
  seg.token;
  // @ts-expect-error internal overload
  Segment.create({ size: 1 }, { kind: 1, capacity: 1024 });
  // @ts-expect-error internal
  tx.segment;
  // @ts-expect-error protected constructor
  new ChannelWriter(seg, { notify: "futex", spin: 0 });
  // @ts-expect-error private constructor
  new KeptMessage(new Uint8Array(1), () => {});
  return e.code + kept.data.length + addonPath;
}
`,
      );
      const tsc = path.join(ROOT, "node_modules", ".bin", "tsc");
      let out = "";
      try {
        execFileSync(tsc, ["-p", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      } catch (e) {
        out = String((e as { stdout?: string }).stdout ?? e);
      }
      expect(out).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
