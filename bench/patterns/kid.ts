// A child process of a pattern benchmark: this same script forked with
// "--child ROLE ...", reporting to the parent over IPC; its messages queued
// until the parent takes them.
import { fork, type ChildProcess } from "node:child_process";

export class Kid<Msg> {
  readonly proc: ChildProcess;
  readonly #q: Msg[] = [];
  #wake: (() => void) | null = null;

  /** Forks `script` with "--child" and `args`. */
  constructor(script: string, args: string[]) {
    this.proc = fork(script, ["--child", ...args], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.proc.on("message", (m: Msg) => {
      this.#q.push(m);
      this.#wake?.();
    });
  }

  /** The next message it sent. */
  async next(): Promise<Msg> {
    while (this.#q.length === 0) await new Promise<void>((r) => (this.#wake = r));
    this.#wake = null;
    return this.#q.shift()!;
  }

  /** The next message that satisfies `pred` (those before it are dropped). */
  async until(pred: (m: Msg) => boolean): Promise<Msg> {
    for (;;) {
      const m = await this.next();
      if (pred(m)) return m;
    }
  }

  /** Closes the IPC channel (the child ends when it has nothing else to do). */
  end(): void {
    if (this.proc.connected) this.proc.disconnect();
  }
}
