// A 100 MB point cloud handed to another process, and its answer coming
// back, without copying the cloud.
//   npm run build:ts && node dist/examples/point-cloud.js
//
// The cloud lives in a Segment (shared memory) from the start: the parent
// fills a Float32Array laid over the segment's memory, in place. The child
// attaches the segment by name and lays its own Float32Array over the same
// memory: nothing is copied, serialized or sent but the name. Two small
// channels carry the job ("segment name, point count") and the answer
// (bounding box and centroid).
//
//   parent --- jobs: {segment, points} ---> child
//   parent <--- answers: 11 float64s ------ child
//
// One segment per cloud: the parent must not touch (or free) the cloud while
// the child reads it. For a stream of clouds, point-cloud-loan.ts lends
// reusable shared memory through the channel itself (tx.loan()).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

import { Channel, Segment, type ChannelReader } from "@synaptic-mesh/shm";

const POINTS = 8_700_000; // x, y, z float32 each: 26.1 M floats, 104 MB (~100 MiB)
const BYTES = POINTS * 3 * Float32Array.BYTES_PER_ELEMENT;
// Generous: the child starts a Node process and reads 100 MB, which takes
// well under a second on an idle machine and may take many on a busy one.
const TIMEOUT_MS = 30_000;

/** bounding box min (3), max (3), centroid (3) */
type Answer = Float64Array;

/** One pass over the cloud, straight on the shared memory. */
function boundsAndCentroid(xyz: Float32Array, points: number): Answer {
  let minX = Infinity, minY = Infinity, minZ = Infinity;
  let maxX = -Infinity, maxY = -Infinity, maxZ = -Infinity;
  let sx = 0, sy = 0, sz = 0;
  for (let i = 0; i < points * 3; i += 3) {
    const x = xyz[i]!, y = xyz[i + 1]!, z = xyz[i + 2]!;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
    if (z < minZ) minZ = z;
    if (z > maxZ) maxZ = z;
    sx += x;
    sy += y;
    sz += z;
  }
  return Float64Array.of(minX, minY, minZ, maxX, maxY, maxZ, sx / points, sy / points, sz / points);
}

/**
 * The points of a segment, as a Float32Array over its data region: no copy.
 * `seg.data` is a Uint8Array; a Float32Array needs its byte offset to be a
 * multiple of 4. The data region starts at seg.dataOffset (4096) in
 * seg.buffer, so it is page-aligned.
 */
function pointsOf(seg: Segment, points: number): Float32Array {
  if (seg.dataOffset % Float32Array.BYTES_PER_ELEMENT !== 0) throw new Error("data region not 4-byte aligned");
  return new Float32Array(seg.buffer, seg.dataOffset, points * 3);
}

const ms = (t0: number): string => `${(performance.now() - t0).toFixed(0)} ms`;
const fmt = (v: ArrayLike<number>): string => `(${Array.from(v, (x) => x.toFixed(2)).join(", ")})`;

// ---- parent: builds the cloud in shared memory, asks the child -------------
async function parent(): Promise<void> {
  // The child starts while we fill the cloud. It creates the answer channel
  // and prints its name as its first stdout line (another way to pass a name
  // back; two-processes.ts uses fork's IPC pipe).
  const jobs = Channel.create({ capacity: 4096 });
  const child = spawn(process.execPath, [__filename, "child", jobs.name], { stdio: ["ignore", "pipe", "inherit"] });
  const firstLine = (async () => {
    for await (const line of createInterface({ input: child.stdout })) return line;
    throw new Error("the child exited before naming its answer channel");
  })();
  firstLine.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
  // Listen for its exit from the start, so an early one is not missed.
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));

  let seg: Segment | null = null;
  let answers: ChannelReader | null = null;
  try {
    let t = performance.now();
    seg = Segment.create({ size: BYTES }); // reserves the memory now (ENOSPC here, not a SIGBUS later)
    const xyz = pointsOf(seg, POINTS);
    // A made-up scan: a 100 m x 40 m ground patch with a 0-5 m surface,
    // from a seeded generator so every run gives the same cloud.
    let s = 12345;
    const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) | 0) >>> 0) / 2 ** 32;
    for (let i = 0; i < POINTS * 3; i += 3) {
      const x = rnd() * 100 - 50;
      const y = rnd() * 40 - 20;
      xyz[i] = x;
      xyz[i + 1] = y;
      xyz[i + 2] = 2.5 + 2.5 * Math.sin(x / 7) * Math.cos(y / 5) * rnd();
    }
    console.log(`parent: ${POINTS.toLocaleString("en-US")} points (${(BYTES / 2 ** 20).toFixed(0)} MiB) filled in place in segment ${seg.name} in ${ms(t)}`);

    const answersName = await withTimeout(firstLine, TIMEOUT_MS, "the child's answer channel name");
    answers = Channel.attach(answersName);
    console.log(`parent: the child is up: jobs go over ${jobs.name}, answers come back over ${answersName}`);

    // Hand-over: the segment's name and the point count, a few bytes.
    t = performance.now();
    await jobs.send(Buffer.from(JSON.stringify({ segment: seg.name, points: POINTS })), { timeout: TIMEOUT_MS });
    const view = await answers.recv({ timeout: TIMEOUT_MS });
    const roundTrip = performance.now() - t;
    // Payloads are 8-byte aligned: a Float64Array straight over the message.
    // It is valid until the next receive, so slice() what we keep.
    const got = new Float64Array(view.buffer, view.byteOffset, view.byteLength / 8).slice();
    const [attachMs, computeMs] = [got[9]!, got[10]!];

    t = performance.now();
    const mine = boundsAndCentroid(xyz, POINTS);
    const ownMs = performance.now() - t;
    const same = mine.every((v, i) => v === got[i]);
    console.log(`parent: the child's answer: min ${fmt(got.subarray(0, 3))} max ${fmt(got.subarray(3, 6))} centroid ${fmt(got.subarray(6, 9))}`);
    console.log(`parent: ${same ? "matches" : "DIFFERS FROM"} the parent's own pass over the same memory`);
    if (!same) throw new Error(`answer ${fmt(got)} != ${fmt(mine)}`);

    // Timings vary from run to run (and a lot on a busy machine).
    console.log(
      `timings: hand-over ${(roundTrip - computeMs).toFixed(1)} ms (job message, child attaches ${attachMs.toFixed(1)} ms, answer message); ` +
        `child's pass ${computeMs.toFixed(0)} ms; parent's own pass ${ownMs.toFixed(0)} ms`,
    );
    // For contrast: one in-process copy of the cloud. Sending it through a
    // pipe or socket would copy it at least twice more (into the kernel and
    // out), plus whatever serialization the transport needs.
    t = performance.now();
    const copy = Buffer.from(seg.data);
    console.log(`timings: for contrast, one copy of the ${(copy.length / 2 ** 20).toFixed(0)} MiB (Buffer.from) takes ${ms(t)}`);

    jobs.close(); // end of stream: the child exits
    const code = await exited;
    console.log(`parent: child exited with ${code}`);
  } finally {
    jobs.close();
    answers?.close();
    seg?.close(); // the owner's close unmaps and removes the name
    child.kill(); // no-op once it has exited
  }
}

// ---- child: attaches the segment it is told about, answers -----------------
async function child(jobsName: string): Promise<void> {
  const jobs = Channel.attach(jobsName);
  const answers = Channel.create({ capacity: 4096 });
  console.log(answers.name); // our only stdout line: the parent reads it

  for (;;) {
    let job: { segment: string; points: number };
    try {
      const m = await jobs.recv({ timeout: TIMEOUT_MS });
      job = JSON.parse(Buffer.from(m).toString()) as typeof job;
    } catch (e) {
      if ((e as { code?: string }).code === "ECLOSED") break; // the parent closed: no more jobs
      throw e;
    }
    let t = performance.now();
    // prefault: fill the page tables now, since we read every page once.
    const seg = Segment.attach(job.segment, { prefault: true });
    const attachMs = performance.now() - t;
    t = performance.now();
    const r = boundsAndCentroid(pointsOf(seg, job.points), job.points);
    const computeMs = performance.now() - t;
    seg.close(); // an attacher's close only unmaps: the parent's cloud stays
    const answer = new Float64Array(11);
    answer.set(r);
    answer[9] = attachMs;
    answer[10] = computeMs;
    await answers.send(answer, { timeout: TIMEOUT_MS });
  }
  answers.close();
  jobs.close();
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const [role, name] = process.argv.slice(2);
(role === "child" ? child(name!) : parent()).catch((e) => {
  console.error(e);
  process.exit(1);
});
