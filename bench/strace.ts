// Reading a trace of `strace -f -ttt -C -o FILE`: which thread belongs to
// which process (from the clone lines), the window a process marked around
// the part to count (access() of a path naming the mark), and the syscalls
// of all the process's threads within it.
//   12345 1795447800.236975 access("/smsh-loan-syscalls/begin", F_OK) = -1 ENOENT (...)
//   12345 1795447800.211554 clone3({flags=...|CLONE_THREAD|..., ...} => {...}, 88) = 12346
//   12345 1795447800.300000 epoll_pwait(13,  <unfinished ...>
//   12345 1795447800.300100 <... epoll_pwait resumed>[...], 1024, -1, NULL, 8) = 1

/** Where the syscall marks point: a path that cannot exist. */
export const MARK_DIR = "/smsh-loan-syscalls";

export interface Call {
  tid: number;
  /** The process (thread group) of the thread. */
  pid: number;
  time: number;
  name: string;
  /** The call as traced, from its name to its result (an interrupted call's two lines joined). */
  text: string;
}

export interface Trace {
  calls: Call[];
  /** Per process: the times of its marks, by name. */
  marks: Map<number, Map<string, number>>;
}

const LINE = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/;
const UNFINISHED = " <unfinished ...>";

export function parseTrace(text: string): Trace {
  const calls: Call[] = [];
  const pending = new Map<number, Call>(); // tid -> its call <unfinished ...>
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue; // the -C summary, blank lines
    const tid = Number(m[1]);
    const rest = m[3]!;
    if (rest.startsWith("+++") || rest.startsWith("---")) continue; // exits, signals
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(rest);
    if (resumed) {
      const c = pending.get(tid);
      if (c) c.text += resumed[1];
      pending.delete(tid);
      continue;
    }
    const name = /^(\w+)\(/.exec(rest)?.[1];
    if (name === undefined) continue;
    const c: Call = { tid, pid: tid, time: Number(m[2]), name, text: rest };
    if (rest.endsWith(UNFINISHED)) {
      c.text = rest.slice(0, -UNFINISHED.length);
      pending.set(tid, c);
    }
    calls.push(c);
  }
  // Thread groups, from the clones in the order they were made: a thread
  // (CLONE_THREAD) joins its creator's process, anything else is a process.
  const group = new Map<number, number>();
  const groupOf = (tid: number): number => group.get(tid) ?? tid;
  for (const c of calls) {
    if (!/^(clone|clone3|fork|vfork)$/.test(c.name)) continue;
    const child = /= (\d+)$/.exec(c.text);
    if (child) group.set(Number(child[1]), c.text.includes("CLONE_THREAD") ? groupOf(c.tid) : Number(child[1]));
  }
  const marks = new Map<number, Map<string, number>>();
  const markRe = new RegExp(`^access\\("${MARK_DIR}/(\\w+)"`);
  for (const c of calls) {
    c.pid = groupOf(c.tid);
    const mark = markRe.exec(c.text);
    if (!mark) continue;
    if (!marks.has(c.pid)) marks.set(c.pid, new Map());
    marks.get(c.pid)!.set(mark[1]!, c.time);
  }
  return { calls, marks };
}

/** The calls of process `pid` (all its threads) between its marks `from` and `to`, the marks themselves left out. */
export function callsBetween(t: Trace, pid: number, from: string, to: string): Call[] {
  const m = t.marks.get(pid);
  const start = m?.get(from);
  const end = m?.get(to);
  if (start === undefined || end === undefined) {
    throw Object.assign(new Error(`process ${pid} has no marks "${from}" and "${to}" in the trace`), { code: "ENOMARKS" });
  }
  return t.calls.filter((c) => c.pid === pid && c.time >= start && c.time <= end && !c.text.startsWith(`access("${MARK_DIR}/`));
}
