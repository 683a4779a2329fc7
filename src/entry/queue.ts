/** `@coord-run/coord/queue`: a run's topics, consumers and groups, the queues `coord queue` uses (docs/coordination.md, Queues). */
export { MessageQueue, QueueError, queueSummary } from '../queue/queue.js';
export type {
  MessageQueueOptions,
  QueueDelivery,
  RecvOptions,
  AckOptions,
  TopicSummary,
  ConsumerSummary,
  StoredMessage,
  ConsumerCursor,
  PendingDelivery,
} from '../queue/queue.js';
export { MAX_MESSAGE_BYTES } from '../util/limits.js';
