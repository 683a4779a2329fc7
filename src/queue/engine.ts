/**
 * The queue engine a backend may provide (Redis Streams consumer groups) and the message
 * shapes queues share: defined with the backend's interfaces (src/backend/queue-engine.ts),
 * which sit below the queue.
 */
export { messageOf, type ConsumerSummary, type NotPending, type QueueEngine, type StoredMessage, type TakeResult, type Taken, type TopicSummary } from '../backend/queue-engine.js';
