/**
 * The queue engine a backend may provide (Redis Streams consumer groups) and the message
 * shapes queues share: defined with the backend's interfaces (src/backend/queue-engine.ts),
 * which sit below the queue.
 */
export { messageOf } from '../backend/queue-engine.js';
export type { ConsumerSummary, NotPending, QueueEngine, StoredMessage, TakeResult, Taken, TopicSummary } from '../backend/queue-engine.js';
