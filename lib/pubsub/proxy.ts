// proxy(): many publishers to many subscribers, as ZeroMQ's XSUB/XPUB proxy
// (docs/PROTOCOL.md §8.6). The proxy is a publisher on `publishOn` and a
// subscriber of every endpoint in `subscribeTo`; it subscribes upstream to
// the union of its own subscribers' prefixes (nothing while it has none), so
// a publisher does not send what nobody downstream wants, and republishes
// each message under its policy. Messages of one upstream publisher keep
// their order; those of different publishers interleave in arrival order.
// An upstream publisher that is not there yet, closes or dies is dialled
// again every `retryMs` until the proxy closes.
import { EventEmitter } from "node:events";

import { checkInteger, invalidArgType, invalidArgValue, shmError } from "../core/errors.js";
import { validateEndpoint } from "../peer/connect.js";
import { publish, type PublishOptions, type Publisher } from "./publish.js";
import { subscribe, type SubscribeOptions, type Subscriber } from "./subscribe.js";

export interface ProxyOptions extends PublishOptions {
  /** The publishers' endpoints. */
  subscribeTo: string[];
  /** Where the proxy publishes. */
  publishOn: string;
  /** Options of the upstream subscriptions (name, curve, heartbeat, timeout...). */
  upstream?: Omit<SubscribeOptions, "topics">;
  /** Pause before dialling an absent or lost upstream publisher again, in ms (default 250). */
  retryMs?: number;
}

export interface UpstreamInfo {
  endpoint: string;
  connected: boolean;
  /** Messages forwarded from it, and messages it said this proxy missed (its policy "drop"). */
  messages: number;
  missed: number;
  /** Why it is not connected ("" when it is). */
  reason: string;
}

const DEFAULT_RETRY_MS = 250;

export class Proxy extends EventEmitter {
  /** The proxy's own publisher (its subscribers, stats, topics). */
  readonly publisher: Publisher;
  readonly #up: { endpoint: string; sub: Subscriber | null; info: UpstreamInfo }[];
  readonly #options: ProxyOptions;
  readonly #retryMs: number;
  #closed = false;
  readonly #loops: Promise<void>[] = [];
  readonly #stop = new AbortController();

  /** @internal made by proxy() */
  constructor(publisher: Publisher, options: ProxyOptions, retryMs: number) {
    super();
    this.publisher = publisher;
    this.#options = options;
    this.#retryMs = retryMs;
    this.#up = options.subscribeTo.map((endpoint) => ({ endpoint, sub: null, info: { endpoint, connected: false, messages: 0, missed: 0, reason: "not connected yet" } }));
    // XSUB: downstream subscriptions, forwarded upstream as they change.
    publisher.on("topics", (topics: readonly string[]) => {
      for (const u of this.#up) u.sub?.setTopics(topics);
    });
    for (const u of this.#up) this.#loops.push(this.#forward(u));
  }

  get upstream(): UpstreamInfo[] {
    return this.#up.map((u) => ({ ...u.info }));
  }

  /** One upstream publisher: subscribe (again), forward until it ends, wait, again; until the proxy closes. */
  async #forward(u: { endpoint: string; sub: Subscriber | null; info: UpstreamInfo }): Promise<void> {
    const o = this.#options.upstream ?? {};
    while (!this.#closed) {
      try {
        const sub = await subscribe(u.endpoint, { name: "proxy", ...o, topics: [...this.publisher.topics] });
        if (this.#closed) {
          await sub.close();
          return;
        }
        u.sub = sub;
        // Downstream may have changed while the subscription was being made.
        sub.setTopics(this.publisher.topics);
        u.info.connected = true;
        u.info.reason = "";
        this.emit("upstream", { ...u.info });
        // In place: send() copies (into the ring, or into its queue when it waits) before the next step releases a loan.
        for await (const m of sub[Symbol.asyncIterator]({ copy: false })) {
          u.info.messages++;
          u.info.missed += m.missed;
          await this.publisher.send(m.topic, m.data);
        }
        u.info.reason = "the publisher closed";
      } catch (e) {
        u.info.reason = (e as Error).message;
      }
      await u.sub?.close();
      u.sub = null;
      u.info.connected = false;
      if (this.#closed) return;
      this.emit("upstream", { ...u.info });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.#retryMs);
        this.#stop.signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Leaves every upstream publisher, then ends the proxy's own subscriptions. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    await Promise.all(this.#up.map((u) => u.sub?.close()));
    await this.publisher.close();
    await Promise.all(this.#loops);
  }
}

/** Starts a proxy: publishes on `publishOn` what the publishers at `subscribeTo` publish. */
export async function proxy(options: ProxyOptions): Promise<Proxy> {
  if (options === null || typeof options !== "object") throw invalidArgType("options", "an object", options);
  const { subscribeTo, publishOn, upstream, retryMs = DEFAULT_RETRY_MS, ...pubOptions } = options;
  if (!Array.isArray(subscribeTo) || subscribeTo.length === 0) throw invalidArgValue("options.subscribeTo", "must be a non-empty array of endpoints", subscribeTo);
  for (const e of subscribeTo) validateEndpoint(e);
  validateEndpoint(publishOn);
  if (subscribeTo.includes(publishOn)) throw shmError("EADDRINUSE", `the proxy cannot subscribe to its own endpoint ${publishOn}`);
  if (upstream !== undefined && (upstream === null || typeof upstream !== "object")) throw invalidArgType("options.upstream", "an object", upstream);
  checkInteger("options.retryMs", retryMs, 1, 2 ** 31 - 1);
  const publisher = await publish(publishOn, { name: "proxy", ...pubOptions });
  return new Proxy(publisher, { ...options, subscribeTo: [...subscribeTo] }, retryMs);
}
