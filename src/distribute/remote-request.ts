/** What the engine asks of the dispatcher to launch one attempt on a worker (dispatcher.ts). */
import type { HeartbeatSource } from '../plan/types.js';
import type { SpawnRequest } from '../supervise/spawner.js';

/** What a remote launch needs beyond a local one. */
export interface RemoteSpec {
  stream: string;
  attempt: number;
  /** The stream's workspace on this host: packed for the worker, replaced by its outputs. */
  workspace: string;
  heartbeatFile: string;
  /** `$COORD_INPUTS` entries: name → directory on this host. */
  inputs: Array<{ name: string; target: string }>;
  requires: string[];
  resources: Record<string, number>;
  priority: number;
  planEnv: Record<string, string>;
  fileAccess?: string;
  workspaceRoot: string;
  /** The plan's `heartbeat.timeout` and `heartbeat.source`: how long the worker's beat key of the attempt lives, and what renews it. */
  heartbeat: { timeoutMs: number; source: HeartbeatSource };
}

/** A local launch request with its remote part. */
export interface RemoteRequest extends SpawnRequest {
  remote: RemoteSpec;
  /** Aborted when the run stops or the replica is superseded while the job still waits. */
  abort?: AbortSignal;
}
