// A verification dialogue: a planner sends claims to a verifier process,
// which checks each one and answers; request/reply over shared memory.
//   npm run build:ts && node dist/examples/verification-dialogue.js
//
// "planner" listens on an ipc:// endpoint and starts "verifier" (a second
// process), which connects and serves: peer.serve() answers each request
// with what its handler returns, and a handler that throws fails the
// request (the planner's request() rejects with EREMOTE). The planner has
// all its claims in flight at once; each reply comes back to the request
// that asked it (correlated by id), whatever order the verifier answers in.
//
//   planner ---- {"id":3,"claim":"17 is prime"} ----> verifier
//   planner <--- {"id":3,"verdict":true,"why":"..."} --
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import { connect, listen, type PeerRequest } from "@synaptic-mesh/shm";

// Generous: the verifier is a fresh Node process, and a busy machine is slow.
const TIMEOUT_MS = 30_000;

const CLAIMS = ["17 is prime", "91 is prime", "2 + 2 = 4", "7 * 8 = 54", "the sum of 1..100 is 5050", "sqrt 2 is rational", "1000003 is prime"];

interface Verdict {
  claim: string;
  verdict: boolean;
  why: string;
}

async function planner(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "dialogue-"));
  // Windows: ZeroMQ's ipc:// is not available there; a loopback port (0: the OS picks one) is.
  const wanted = process.platform === "win32" ? "tcp://127.0.0.1:0" : `ipc://${path.join(dir, "planner.sock")}`;
  const server = await listen(wanted, { name: "planner" });
  const endpoint = server.endpoint; // with the port the OS chose
  const verifier = spawn(process.execPath, [__filename, "verifier", endpoint], { stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise<number | null>((resolve) => verifier.once("exit", resolve));
  try {
    for await (const peer of server) {
      console.log(`planner: ${peer.remoteName} (pid ${peer.remotePid}) connected over ${peer.transport}`);
      // Every claim in flight at once: each request() resolves with the reply to that very claim.
      const answers = await Promise.allSettled(CLAIMS.map((claim) => peer.request(Buffer.from(claim), { timeout: TIMEOUT_MS })));
      answers.forEach((a, i) => {
        if (a.status === "rejected") {
          const e = a.reason as { code?: string; message: string };
          console.log(`planner: "${CLAIMS[i]}" could not be checked: ${e.code} (${e.message})`);
          return;
        }
        const v = JSON.parse(Buffer.from(a.value).toString()) as Verdict;
        if (v.claim !== CLAIMS[i]) throw new Error("a reply came back to the wrong request");
        console.log(`planner: "${v.claim}" is ${v.verdict ? "TRUE" : "FALSE"}: ${v.why}`);
      });
      const s = peer.stats;
      console.log(`planner: ${s.requestsSent} requests, ${s.repliesReceived} answers, ${s.repliesDropped} dropped`);
      await peer.close();
      break; // one verifier in this example
    }
    console.log(`planner: verifier exited with ${await exited}`);
  } finally {
    await server.close();
    verifier.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The smallest divisor of n above 1 (n itself for a prime), 0 below 2. */
function smallestDivisor(n: number): number {
  if (n < 2) return 0;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return d;
  return n;
}

/** The verifier's checks: a verdict with its reason, or a throw for a claim it cannot check. */
function check(claim: string): Verdict {
  let m: RegExpMatchArray | null;
  if ((m = claim.match(/^(\d+) is prime$/))) {
    const n = Number(m[1]);
    const d = smallestDivisor(n);
    return { claim, verdict: d === n, why: d === n ? "no divisor up to its square root" : `divisible by ${d}` };
  }
  if ((m = claim.match(/^(\d+) ([+*]) (\d+) = (\d+)$/))) {
    const [a, op, b, c] = [Number(m[1]), m[2], Number(m[3]), Number(m[4])];
    const r = op === "+" ? a + b : a * b;
    return { claim, verdict: r === c, why: `${a} ${op} ${b} is ${r}` };
  }
  if ((m = claim.match(/^the sum of 1\.\.(\d+) is (\d+)$/))) {
    const n = Number(m[1]);
    return { claim, verdict: (n * (n + 1)) / 2 === Number(m[2]), why: `n(n+1)/2 = ${(n * (n + 1)) / 2}` };
  }
  throw new Error(`no rule to check "${claim}"`);
}

async function verifier(endpoint: string): Promise<void> {
  const peer = await connect(endpoint, { name: "verifier" });
  console.log(`verifier: connected to ${peer.remoteName} over ${peer.transport}`);
  // Answers until the planner closes; a throw in the handler answers with req.fail(its message).
  await peer.serve((req: PeerRequest) => Buffer.from(JSON.stringify(check(Buffer.from(req.data).toString()))));
  console.log(`verifier: the planner closed after ${peer.stats.requestsReceived} claims`);
  await peer.close();
}

const [role, endpoint] = process.argv.slice(2);
(role === "verifier" ? verifier(endpoint!) : planner()).catch((e) => {
  console.error(e);
  process.exit(1);
});
