/**
 * A stream's state machine: one phase at a time, each with the data only that phase has, and
 * a table of the moves allowed between them. Every move goes through `move()`, which refuses
 * a move the table does not list (an internal error naming both phases) and keeps the
 * stream's record state, what `coord status` shows, in step with the phase.
 *
 *                deps met             slot + units               spawned
 *    pending ─────────────> waiting ─────────────> launching ──────────> running ◄─────┐
 *     │   │                   ▲                     │  │  ▲ │             │  │  │       │ beats
 *     │   │                   └── retry after ──────┼──┼──┼─┼─────────────┘  │  │ no    │ again
 *     │   │                       backoff           │  │  │ │                │  │ beat  │
 *     │   │                                         │  │  │ └─ worker lost ┐ │  ▼       │
 *     │   │    recovering ── slot + units ──────────┼──┼──┘    restarts    │ │ stalled ─┘
 *     │   │      ▲   ▲                              │  │       left        │ │  │
 *     │   │      │   └──────────────────────────────┼──┼───────────────────┘ │  │
 *     │   │      └── guardian restart or worker lost, from running/stalled ──┴──┘
 *     │   │                                         │  │
 *     │   └─ dependency failed ──> skipped          │  └─ workspace or spawn failed ──> failed
 *     │                                             └─ stop requested while still launching
 *     │                                                (stop, superseded, point failed or
 *     │                                                timed out) ──> cancelled
 *     └─ stop, superseded, point failed (so too waiting, recovering, committing) ──> cancelled
 *
 *    running, stalled ── exit 0 ──> succeeded
 *                     ── exit 0 in a git worktree ──> committing ──> succeeded | failed
 *                     ── non-zero, timeout, signal, no retries left ──> failed
 *                     ── stopped, superseded, point failed or timed out ──> cancelled
 *    succeeded ── its point's check found its changes to break the merge ──> failed
 *              ── its point asks for another attempt with what broke (feedback:) ──> waiting
 *    --resume:  pending ──> succeeded (kept),  pending ──> running (adopted)
 *
 * The terminal phases are succeeded, failed, skipped and cancelled; a stream ends once, but
 * for a success that its point's check (`verify:`) then left out.
 * `launching` shows as the state it was queued in (`waiting` or `recovering`), `committing`
 * as the state its process exited in (`running` or `stalled`).
 */
import type { StreamRecord } from '../backend/types.js';
import type { EngineStop, StopReason } from '../core/failures.js';
import { unreachable } from '../core/unreachable.js';
import type { StreamState } from '../events/types.js';
import type { AttemptProcess } from '../supervise/attempt-process.js';
import type { StreamProcess } from '../supervise/spawner.js';
import type { Hold } from './resources.js';

/** Why a launch is called off, or its process stopped as soon as it exists (with the data of that stop). */
export type LaunchStop = EngineStop;

/** What a running (or stalled) attempt has: its process under supervision and what goes with it. */
export interface Attempt {
  /** Its process (the supervision's). */
  readonly proc: StreamProcess;
  /** Its supervision: signals, escalation to SIGKILL, time limit, liveness slot, heartbeat key (src/supervise/attempt-process.ts). */
  readonly supervision: AttemptProcess;
  /** The units of its plan demand the attempt holds. */
  hold: Hold | undefined;
  /** Why the attempt is being stopped (it decides the state it ends in). */
  killReason: StopReason | undefined;
  /** The engine's stop for another's sake, with its data, when it made one (`killReason` names its reason). */
  stoppedFor: LaunchStop | undefined;
  /** SIGKILL was sent (the attempt did not end on the soft signal). */
  readonly killSent: boolean;
}

export type StreamPhase =
  | { kind: 'pending' }
  /** Queued to start; `notBefore` is the end of a retry's backoff (wall clock), `readyAt` when it was queued. */
  | { kind: 'waiting'; readyAt: number; notBefore: number }
  | { kind: 'recovering'; readyAt: number; notBefore: number }
  /** Between the scheduler's pick and the spawn: the workspace is being prepared, the process started. */
  | {
      kind: 'launching';
      shows: 'waiting' | 'recovering';
      hold: Hold | undefined;
      /** Calls off a remote launch still waiting for a worker. */
      abort: AbortController | undefined;
      /** Stop requested while still launching. */
      stopAs: LaunchStop | undefined;
    }
  | { kind: 'running'; attempt: Attempt }
  | { kind: 'stalled'; attempt: Attempt }
  /** Exited 0 in a git worktree: the work is being committed on the stream's branch. */
  | { kind: 'committing'; shows: 'running' | 'stalled' }
  | { kind: 'succeeded' }
  | { kind: 'failed' }
  | { kind: 'skipped' }
  | { kind: 'cancelled' };

export type PhaseKind = StreamPhase['kind'];
export type Phase<K extends PhaseKind> = Extract<StreamPhase, { kind: K }>;

const TERMINAL: readonly PhaseKind[] = ['succeeded', 'failed', 'skipped', 'cancelled'];

/** Every move a stream may make: from a phase to the phases listed. */
export const TRANSITIONS: { readonly [K in PhaseKind]: readonly PhaseKind[] } = {
  // --resume: a kept stream is succeeded at once, an adopted one running
  pending: ['waiting', 'skipped', 'cancelled', 'succeeded', 'running'],
  waiting: ['launching', 'cancelled'],
  recovering: ['launching', 'cancelled'],
  launching: ['running', 'recovering', 'failed', 'cancelled'],
  running: ['stalled', 'waiting', 'recovering', 'committing', 'succeeded', 'failed', 'cancelled'],
  stalled: ['running', 'waiting', 'recovering', 'committing', 'succeeded', 'failed', 'cancelled'],
  committing: ['succeeded', 'failed', 'cancelled'],
  // a point's check found its changes to break the merge: left out (`on_verify_failure: exclude`)
  // …or its point asks for another attempt with what broke (`feedback:`)
  succeeded: ['failed', 'waiting'],
  failed: [],
  skipped: [],
  cancelled: [],
};

/** A move the table does not allow: a bug in the engine, never the user's doing. */
export class IllegalTransition extends Error {
  constructor(
    readonly stream: string,
    readonly from: PhaseKind,
    readonly to: PhaseKind,
  ) {
    super(`internal error: stream "${stream}" cannot move from ${from} to ${to}`);
    this.name = 'IllegalTransition';
  }
}

/** What the state machine moves: a stream's phase and the record that shows it. */
export interface Moving {
  readonly spec: { readonly id: string };
  phase: StreamPhase;
  readonly rec: Pick<StreamRecord, 'state'>;
}

export function canMove(from: PhaseKind, to: PhaseKind): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isTerminal(kind: PhaseKind): boolean {
  return TERMINAL.includes(kind);
}

/** The state a phase shows in the stream's record. */
export function shownState(phase: StreamPhase): StreamState {
  switch (phase.kind) {
    case 'launching':
    case 'committing':
      return phase.shows;
    case 'pending':
    case 'waiting':
    case 'recovering':
    case 'running':
    case 'stalled':
    case 'succeeded':
    case 'failed':
    case 'skipped':
    case 'cancelled':
      return phase.kind;
    default:
      return unreachable(phase);
  }
}

/** Moves a stream to `next`; throws IllegalTransition for a move the table does not list. */
export function move<K extends PhaseKind>(s: Moving, next: Phase<K>): Phase<K> {
  const from = s.phase.kind;
  if (!canMove(from, next.kind)) throw new IllegalTransition(s.spec.id, from, next.kind);
  s.phase = next;
  s.rec.state = shownState(next);
  return next;
}

/** The running (or stalled) attempt, if there is one. */
export function attemptOf(s: { phase: StreamPhase }): Attempt | undefined {
  return s.phase.kind === 'running' || s.phase.kind === 'stalled' ? s.phase.attempt : undefined;
}

/** Queued to start (not launching, running or ended). */
export function isQueued(s: { phase: StreamPhase }): boolean {
  return s.phase.kind === 'waiting' || s.phase.kind === 'recovering';
}

/** The queued phase (waiting or recovering), if the stream is queued to start. */
export function queuedOf(s: { phase: StreamPhase }): Phase<'waiting' | 'recovering'> | undefined {
  return s.phase.kind === 'waiting' || s.phase.kind === 'recovering' ? s.phase : undefined;
}

/** A terminal state. */
export type EndState = 'succeeded' | 'failed' | 'skipped' | 'cancelled';

/** A freshly spawned (or adopted) attempt's data: `supervision` has its process; `stop` when it is stopped as soon as it exists. */
export function newAttempt(supervision: AttemptProcess, hold: Hold | undefined, stop?: LaunchStop): Attempt {
  const proc = supervision.process;
  if (!proc) throw new Error('an attempt is made of a process that exists');
  return {
    proc,
    supervision,
    hold,
    killReason: stop?.reason,
    stoppedFor: stop,
    get killSent() {
      return supervision.killSent;
    },
  };
}
