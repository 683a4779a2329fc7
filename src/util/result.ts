/** Outcomes as values: failures are data, exceptions become failures at the edges only. */
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const err = <E>(error: E): { ok: false; error: E } => ({ ok: false, error });

/** The one `unreachable` lives in core/ (re-exported here for the modules that import it from here). */
export { unreachable } from '../core/unreachable.js';
