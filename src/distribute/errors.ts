/** Outcomes of a remote launch the coordinator handles (kept apart from the BullMQ code, which loads lazily). */

/** The worker that took the attempt died (its lease expired) before the stream started. */
export class WorkerLost extends Error {}

/** The launch was called off (the run stops, the replica was superseded) while the job still waited. */
export class LaunchAborted extends Error {}
