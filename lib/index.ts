// Public entry of @synaptic-mesh/shm.
export { Segment, randomName, validateName, NAME_PREFIX } from "./core/segment.js";
export type { SegmentCreateOptions, SegmentAttachOptions } from "./core/segment.js";
export { WaitLine, Waiter, DEFAULT_WAIT_MODE } from "./core/notify.js";
export type { WaitMode } from "./core/notify.js";
export { shmError } from "./core/errors.js";
export type { ShmError, ShmErrorCode, WaitOptions } from "./core/errors.js";
export * as layout from "./core/layout.js";
export { addonPath } from "./core/native.js";
export { Channel, ChannelReader, ChannelWriter, KeptMessage } from "./channel/channel.js";
export type { ChannelCreateOptions, ChannelAttachOptions } from "./channel/channel.js";
export type { MessagesOptions, ReaderOptions } from "./channel/reader.js";
export type { WriterStats } from "./channel/writer.js";
export type { ReaderStats } from "./channel/reader.js";
export { detachLoan, loanTransfer } from "./loan/away.js";
export { sweep, list as listSegments, inspect as inspectSegment } from "./core/sweep.js";
export type { SegmentStatus, SweepEntry, SweepOptions, ProcessInfo, SideState } from "./core/sweep.js";
export { listen, Server } from "./peer/server.js";
export type { ListenOptions } from "./peer/server.js";
export { connect, curveKeyPair } from "./peer/connect.js";
export type { ConnectOptions, CurveOptions, PeerOptions } from "./peer/connect.js";
export { Peer } from "./peer/peer.js";
export type { HeartbeatOptions, PeerMessagesOptions, PeerState, PeerStats, RequestHandler, RequestOptions, ServeOptions } from "./peer/peer.js";
export { PeerRequest } from "./peer/request.js";
export { hub, Hub } from "./hub/hub.js";
export type { HubOptions, HubStats } from "./hub/hub.js";
export { join, Agent } from "./hub/agent.js";
export type { JoinOptions, AgentMessage, AgentTransport, AgentRouteStats } from "./hub/agent.js";
export type { AgentRequest } from "./hub/requests.js";
export type { AgentEntry } from "./hub/messages.js";
export type { RouteStats, RoutePath } from "./hub/stats.js";
export { Broadcast, BroadcastReader, BroadcastWriter } from "./broadcast/broadcast.js";
export type {
  BroadcastAttachOptions,
  BroadcastCreateOptions,
  BroadcastMessage,
  BroadcastPolicy,
  BroadcastReaderStats,
  BroadcastWriterStats,
  SubscriberInfo,
} from "./broadcast/broadcast.js";
export { publish, Publisher } from "./pubsub/publish.js";
export type { PublishOptions, PublisherLoan, PublisherStats, SubscriptionInfo } from "./pubsub/publish.js";
export { subscribe, Subscriber } from "./pubsub/subscribe.js";
export type { Published, SubscribeOptions } from "./pubsub/subscribe.js";
export { proxy, Proxy } from "./pubsub/proxy.js";
export type { ProxyOptions, UpstreamInfo } from "./pubsub/proxy.js";
