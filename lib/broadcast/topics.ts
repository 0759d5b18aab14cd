// Topics as ZeroMQ SUB filters them: a message's topic matches a
// subscription when the subscription is a byte prefix of it; the empty
// prefix matches everything; several subscriptions are OR'd.
import { invalidArgType, outOfRange } from "../core/errors.js";
import { MAX_TOPIC } from "./layout.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A topic or prefix as bytes (strings as UTF-8); at most MAX_TOPIC bytes. */
export function topicBytes(topic: unknown, name = "topic"): Uint8Array {
  let b: Uint8Array;
  if (typeof topic === "string") b = encoder.encode(topic);
  else if (topic instanceof Uint8Array) b = topic;
  else throw invalidArgType(name, "a string or a Uint8Array", topic);
  if (b.length > MAX_TOPIC) throw outOfRange(`${name}.length`, `<= ${MAX_TOPIC} bytes`, b.length);
  return b;
}

/** Compiled subscriptions: null matches everything. */
export type TopicFilter = Uint8Array[] | null;

export function compileTopics(topics: unknown): TopicFilter {
  if (topics === undefined) return null;
  if (!Array.isArray(topics)) throw invalidArgType("options.topics", "an array of strings or Uint8Arrays", topics);
  const list = topics.map((t, i) => topicBytes(t, `options.topics[${i}]`));
  if (list.length === 0 || list.some((t) => t.length === 0)) return null;
  return list;
}

/** Whether the topic at bytes[at, at+len) matches the filter. */
export function matches(filter: TopicFilter, bytes: Uint8Array, at: number, len: number): boolean {
  if (filter === null) return true;
  outer: for (const p of filter) {
    if (p.length > len) continue;
    for (let i = 0; i < p.length; i++) if (bytes[at + i] !== p[i]) continue outer;
    return true;
  }
  return false;
}

/** Decodes topics, reusing the last string while the bytes repeat (the common case: few topics). */
export class TopicDecoder {
  #last = new Uint8Array(0);
  #str = "";

  decode(bytes: Uint8Array, at: number, len: number): string {
    const last = this.#last;
    if (last.length === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (last[i] !== bytes[at + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#str;
    }
    const copy = bytes.slice(at, at + len);
    this.#last = copy;
    this.#str = decoder.decode(copy);
    return this.#str;
  }
}

/** Encodes topic strings, remembering the last few (a publisher repeats its topics). */
export class TopicEncoder {
  readonly #cache = new Map<string, Uint8Array>();

  encode(topic: unknown): Uint8Array {
    if (typeof topic === "string") {
      let b = this.#cache.get(topic);
      if (b === undefined) {
        b = topicBytes(topic);
        if (this.#cache.size >= 256) this.#cache.clear();
        this.#cache.set(topic, b);
      }
      return b;
    }
    return topicBytes(topic);
  }
}
