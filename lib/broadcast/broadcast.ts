// Broadcast 1 -> N over shared memory (docs/PROTOCOL.md §6): the entry points.
import { BroadcastReader, type BroadcastAttachOptions } from "./reader.js";
import { BroadcastWriter, type BroadcastCreateOptions } from "./writer.js";

export const Broadcast = {
  /** A new broadcast ring and its writer. */
  create(options?: BroadcastCreateOptions): BroadcastWriter {
    return BroadcastWriter.create(options);
  },
  /** A subscriber of the ring named `name`. */
  attach(name: string, options?: BroadcastAttachOptions): BroadcastReader {
    return BroadcastReader.attach(name, options);
  },
};
export { BroadcastReader, BroadcastWriter };
export type { BroadcastAttachOptions, BroadcastCreateOptions };
export type { BroadcastMessage, BroadcastReaderStats } from "./reader.js";
export type { BroadcastPolicy, BroadcastWriterStats, SubscriberInfo, SendOptions } from "./writer.js";
