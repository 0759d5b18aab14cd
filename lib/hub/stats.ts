// The hub's routing statistics: per route (from -> to, and the path it
// takes), messages and bytes. Routed traffic is counted by the hub as it
// forwards it (exact, current); direct pairs are counted by their sender and
// reported to the hub every statsIntervalMs and when it leaves (as fresh as
// the last report: `updatedAt` says when).

/** "hub": through the hub over ZeroMQ; "direct": an agent-to-agent Peer (shared memory, or ZeroMQ between the two). */
export type RoutePath = "hub" | "direct";

export interface RouteStats {
  from: string;
  to: string;
  path: RoutePath;
  messages: number;
  bytes: number;
  /** Date.now() when these figures last changed (a direct route's: the sender's last report that changed them). */
  updatedAt: number;
}

export class RouteTable {
  readonly #routes = new Map<string, RouteStats>();

  add(from: string, to: string, path: RoutePath, messages: number, bytes: number): void {
    if (messages === 0 && bytes === 0) return;
    const key = `${path}\u0000${from}\u0000${to}`;
    let r = this.#routes.get(key);
    if (r === undefined) this.#routes.set(key, (r = { from, to, path, messages: 0, bytes: 0, updatedAt: 0 }));
    r.messages += messages;
    r.bytes += bytes;
    r.updatedAt = Date.now();
  }

  /** Every route, sorted by sender, then receiver, then path. */
  list(): RouteStats[] {
    return [...this.#routes.values()].map((r) => ({ ...r })).sort((a, b) => cmp(a.from, b.from) || cmp(a.to, b.to) || cmp(a.path, b.path));
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What one agent reported of its direct pairs (cumulative since it
 * started): the table takes the growth since its previous report, so an
 * agent that re-joins a restarted hub brings its whole history, and one that
 * reports twice is not counted twice.
 */
export class ReportedCounts {
  readonly #last = new Map<string, { messages: number; bytes: number }>();

  /** Adds to `table` what grew since the last report of `from`; a count that went down (nonsense) is ignored. */
  apply(table: RouteTable, from: string, routes: readonly { to: string; messages: number; bytes: number }[]): void {
    for (const r of routes) {
      const prev = this.#last.get(r.to) ?? { messages: 0, bytes: 0 };
      if (r.messages < prev.messages || r.bytes < prev.bytes) continue;
      table.add(from, r.to, "direct", r.messages - prev.messages, r.bytes - prev.bytes);
      this.#last.set(r.to, { messages: r.messages, bytes: r.bytes });
    }
  }
}
