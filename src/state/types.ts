/** The shapes of the shared state's API (store.ts): versions, change-log entries, update results and options. */
import type { EventInput, StateOp } from '../events/types.js';
import type { StateSettings } from '../backend/types.js';
import { CoordError } from '../core/errors.js';
import type { JsonObject } from './paths.js';

/** One change-log entry. */
export interface ChangeEntry {
  version: number;
  /** ISO time of the change. */
  time: string;
  /** The stream that made it (null: a process outside any stream). */
  stream: string | null;
  op: StateOp;
  /** Dotted paths whose values changed. */
  keys: string[];
  /** rollback: the version returned to; restore: the snapshot's version. */
  from?: number;
}

export interface StateVersion<T = JsonObject> {
  version: number;
  data: T;
}

export interface UpdateResult<T = JsonObject> {
  /** The version the state is at afterwards. */
  version: number;
  /** False when the update changed nothing (no version was made). */
  changed: boolean;
  keys: string[];
  data: T;
}

export interface UpdateOptions {
  /** Compare-and-set: fail with {@link VersionConflictError} unless the state is at this version. */
  expectVersion?: number;
  /** How the change-log entry names the operation (default `update`). */
  op?: StateOp;
  from?: number;
}

/** `--expect-version` did not hold: the state is at `current` (code `version-conflict`). */
export class VersionConflictError extends CoordError {
  constructor(
    readonly expected: number,
    readonly current: number,
  ) {
    super('version-conflict', `the state moved: expected version ${expected}, it is at version ${current}; nothing was changed`);
  }
}

export const DEFAULT_STATE: StateSettings = { type: 'centralized', keepVersions: 100, durable: false };

export interface StateStoreOptions extends Partial<StateSettings> {
  /** The stream that changes are recorded for when update() is not given one. */
  stream?: string | null;
  /** Where events go (default: the run's event log through the backend). */
  onEvent?: (e: EventInput) => void;
}
