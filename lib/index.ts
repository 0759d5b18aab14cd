// Public entry of @synaptic-mesh/shm.
export { Segment, randomName, validateName, NAME_PREFIX } from "./segment.js";
export type { SegmentCreateOptions, SegmentAttachOptions } from "./segment.js";
export { WaitLine, Waiter, DEFAULT_WAIT_MODE } from "./notify.js";
export type { WaitMode } from "./notify.js";
export { shmError } from "./errors.js";
export type { ShmError, ShmErrorCode, WaitOptions } from "./errors.js";
export * as layout from "./layout.js";
export { addonPath } from "./native.js";
export { Channel, ChannelReader, ChannelWriter, KeptMessage } from "./channel.js";
export type { ChannelCreateOptions, ChannelAttachOptions } from "./channel.js";
export type { MessagesOptions, ReaderOptions } from "./channel-reader.js";
export type { WriterStats } from "./channel-writer.js";
export type { ReaderStats } from "./channel-reader.js";
export { sweep, list as listSegments, inspect as inspectSegment } from "./sweep.js";
export type { SegmentStatus, SweepEntry, SweepOptions, ProcessInfo, SideState } from "./sweep.js";
