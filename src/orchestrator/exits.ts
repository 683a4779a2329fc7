/**
 * Exit handling: what the end of an attempt makes of its stream. The pure exit policy
 * (exit-policy.ts) decides — retry after a backoff, guardian restart, success, failure,
 * cancel — and this unit carries the decision out: the stream moves in its state machine,
 * its points hear of it, `gather: first` and `gather: vote` groups stop the replicas they
 * no longer need, and `coord spawn --wait` callers are answered.
 */
import { existsSync } from 'node:fs';
import type { Failure, NoMajority, VerifyFailed } from '../core/failures.js';
import type { ExitInfo, StreamProcess } from '../supervise/spawner.js';
import type { Engine, ExitsRole, StreamRt } from './engine.js';
import { lastCheckpoint } from '../convergence/checkpoints.js';
import { unreachable } from '../core/unreachable.js';
import { exitDecision, firstWins, lostDecision, reasonOf, type ExitDecision } from './exit-policy.js';
import { attemptOf, isTerminal, type EndState, type LaunchStop } from './stream-state.js';
import type { VoteGroup } from './vote-groups.js';

export class ExitHandler implements ExitsRole {
  constructor(private readonly e: Engine) {}

  /** The process of a running attempt exited (or its worker was lost). */
  exited(rt: StreamRt, proc: StreamProcess, info: ExitInfo): void {
    const { e } = this;
    // A late exit of an attempt that was already replaced is discarded by attempt.
    const att = attemptOf(rt);
    if (att?.proc !== proc) return;
    e.guardian.clearTimers(att);
    e.guardian.unwatch(rt, att, info.lost !== undefined);
    e.scheduler.running--;
    e.scheduler.releaseUnits(rt.spec.id, att.hold);
    att.hold = undefined;
    const durationMs = Math.round(performance.now() - rt.startedMs);
    rt.rec.exitCode = info.exitCode;
    rt.rec.signal = info.signal;
    rt.rec.killed = att.killSent;
    // a beat written just before the exit (the guardian stopped watching with the exit)
    if (existsSync(rt.paths.heartbeatFile)) e.guardian.readHeartbeat(rt);
    e.bus.emit({ type: 'stream-exited', stream: rt.spec.id, attempt: rt.rec.attempt, exitCode: info.exitCode, signal: info.signal, durationMs });
    if (info.error) e.bus.emit({ type: 'warning', stream: rt.spec.id, message: `could not start: ${info.error}` });
    if (info.lost !== undefined) {
      this.relaunchLost(rt, info.lost);
      return;
    }
    if (info.outputsError) e.bus.emit({ type: 'warning', stream: rt.spec.id, message: info.outputsError });
    if (info.logError) {
      e.bus.emit({ type: 'warning', stream: rt.spec.id, message: `${info.logError.message}: the stream's output could not be stored; it was stopped` });
      if (info.logError.diskFull) e.flags.diskFull ??= info.logError.message;
    }
    const decision = exitDecision({
      stopping: e.flags.stopping !== undefined,
      stoppedBy: e.flags.stopping,
      killReason: att.killReason,
      stop: att.stoppedFor,
      logError: info.logError ? { diskFull: info.logError.diskFull === true, message: info.logError.message } : undefined,
      outputsError: info.outputsError || undefined,
      spawnError: info.error || undefined,
      exitCode: info.exitCode,
      signal: info.signal,
      worktree: rt.spec.isolation === 'worktree',
      // attempts its points asked for (feedback) do not use up its retries
      attempt: rt.rec.attempt - rt.feedbacks,
      retries: rt.spec.retries,
      restarts: rt.restarts,
      maxRestarts: e.plan.guardian.maxRestarts,
      timeoutMs: rt.spec.timeoutMs,
      heartbeatTimeoutMs: e.plan.heartbeat.timeoutMs,
      now: Date.now(),
    });
    if (decision.kind === 'commit') {
      e.table.moveTo(rt, { kind: 'committing', shows: rt.phase.kind === 'stalled' ? 'stalled' : 'running' });
      void this.commitThenSucceed(rt);
      return;
    }
    this.apply(rt, decision);
    e.afterChange();
  }

  /** A remote attempt's worker was lost (at its launch or while it ran): it runs again elsewhere while `max_restarts` allows. */
  relaunchLost(rt: StreamRt, why: string): void {
    const { e } = this;
    const att = attemptOf(rt);
    const stopAs = rt.phase.kind === 'launching' ? rt.phase.stopAs : att?.stoppedFor;
    const killReason = rt.phase.kind === 'launching' ? rt.phase.stopAs?.reason : att?.killReason;
    if (rt.phase.kind === 'launching') {
      e.scheduler.running--;
      e.scheduler.releaseUnits(rt.spec.id, rt.phase.hold);
      rt.phase.hold = undefined;
    }
    e.bus.emit({ type: 'warning', stream: rt.spec.id, message: `attempt ${rt.rec.attempt} was lost: ${why}` });
    this.apply(
      rt,
      lostDecision({
        stopping: e.flags.stopping !== undefined,
        stoppedBy: e.flags.stopping,
        killReason,
        stop: stopAs,
        restarts: rt.restarts,
        maxRestarts: e.plan.guardian.maxRestarts,
        lost: why,
      }),
    );
    e.afterChange();
  }

  private apply(rt: StreamRt, d: Exclude<ExitDecision, { kind: 'commit' }>): void {
    const { e } = this;
    switch (d.kind) {
      case 'end':
        return this.end(rt, d.state, d.failure);
      case 'restart': {
        // The guardian restarts a stalled stream (or one whose worker was lost) as a new attempt.
        const reason = d.failure.reason;
        rt.restarts += 1;
        rt.rec.reason = reason;
        if (reason === 'heartbeat-timeout' && rt.spec.resumeFrom === 'checkpoint') {
          rt.resumeSeed = lastCheckpoint(
            rt.spec.id,
            e.table.pointsOf(rt.spec.id).map((p) => p.rec.target),
          );
        }
        e.bus.emit({ type: 'stream-retrying', stream: rt.spec.id, attempt: rt.rec.attempt, delayMs: 0, reason });
        return e.scheduler.makeReady(rt, 'recovering');
      }
      case 'retry': {
        const reason = d.failure.reason;
        rt.rec.reason = reason;
        e.bus.emit({ type: 'stream-retrying', stream: rt.spec.id, attempt: rt.rec.attempt, delayMs: d.delayMs, reason });
        return e.scheduler.makeReady(rt, 'waiting', d.notBefore);
      }
      default:
        return unreachable(d);
    }
  }

  /** A worktree stream's work is committed on its branch before it counts as succeeded. */
  private async commitThenSucceed(rt: StreamRt): Promise<void> {
    try {
      await this.e.worktrees.commit(rt.spec.id);
      this.end(rt, 'succeeded', null);
    } catch (err) {
      const failure: Failure = { reason: 'merge-error', message: err instanceof Error ? err.message : String(err) };
      this.e.bus.emit({ type: 'warning', stream: rt.spec.id, message: `could not commit the worktree: ${failure.message}` });
      this.end(rt, 'failed', failure);
    }
    this.e.afterChange();
  }

  /** A stream reaches a terminal state, with its failure (none when it succeeded): record it and tell its convergence points. */
  end(rt: StreamRt, state: EndState, failure: Failure | null): void {
    const { e } = this;
    if (isTerminal(rt.phase.kind)) return; // ends once
    const reason = reasonOf(failure);
    e.scheduler.pending.delete(rt);
    rt.rec.reason = reason;
    rt.rec.endedAt = new Date().toISOString();
    e.table.moveTo(rt, { kind: state });
    const durationMs = rt.startedMs ? Math.round(performance.now() - rt.startedMs) : 0;
    e.bus.emit({
      type: 'stream-ended',
      stream: rt.spec.id,
      attempt: rt.rec.attempt,
      state,
      exitCode: rt.rec.exitCode,
      ...(reason ? { reason } : {}),
      ...(rt.rec.killed ? { killed: true } : {}),
      durationMs,
    });
    if (e.voteGroups.of(rt.spec.id)) {
      // A replica of a `gather: vote` group: its points hear of the group's decision instead.
      e.voteGroups.memberEnded(rt.spec.id, state === 'succeeded');
    } else {
      for (const p of e.table.pointsOf(rt.spec.id)) {
        if (state === 'succeeded') p.streamSucceeded(rt.spec.id);
        else if (failure?.reason === 'superseded') p.drop(rt.spec.id);
        else p.streamFailed(rt.spec.id, state);
      }
    }
    // The first success of a `gather: first` group stops and drops the other replicas.
    const first = e.table.firstGroups.get(rt.spec.id);
    if (state === 'succeeded') for (const m of firstWins(first, rt.spec.id)) this.supersede(m, { reason: 'superseded', group: first?.id, winner: rt.spec.id });
    e.control.ended(rt.spec.id, state, rt.rec.exitCode);
  }

  /**
   * A succeeded stream whose changes its point's check found to break the merge (`on_verify_failure:
   * exclude`): it ends `failed` with reason `verify-failed` after all, the one move out of a
   * terminal state (stream-state.ts). Its other points hear that it failed.
   */
  exclude(rt: StreamRt, failure: VerifyFailed): void {
    const { e } = this;
    if (rt.phase.kind !== 'succeeded') return;
    rt.rec.reason = failure.reason;
    e.table.moveTo(rt, { kind: 'failed' });
    e.bus.emit({
      type: 'stream-ended',
      stream: rt.spec.id,
      attempt: rt.rec.attempt,
      state: 'failed',
      exitCode: rt.rec.exitCode,
      reason: failure.reason,
      durationMs: rt.rec.startedAt && rt.rec.endedAt ? Math.max(0, Date.parse(rt.rec.endedAt) - Date.parse(rt.rec.startedAt)) : 0,
    });
    for (const p of e.table.pointsOf(rt.spec.id)) if (p.spec.name !== failure.point) p.streamFailed(rt.spec.id, 'failed');
    e.control.ended(rt.spec.id, 'failed', rt.rec.exitCode);
  }

  /**
   * A succeeded stream whose point asks for another attempt (`feedback:`): it runs again in its
   * own workspace, its earlier work there, with `COORD_FEEDBACK` naming `file`. False when it
   * had not succeeded (then nothing changes).
   */
  reopen(rt: StreamRt, point: string, file: string, because: 'verify' | 'conflict'): boolean {
    const { e } = this;
    if (rt.phase.kind !== 'succeeded') return false;
    rt.feedback = file;
    rt.feedbacks += 1;
    rt.rec.reason = null;
    rt.rec.endedAt = null;
    e.bus.emit({ type: 'stream-feedback', stream: rt.spec.id, attempt: rt.rec.attempt + 1, point, because, file });
    e.scheduler.makeReady(rt, 'waiting');
    return true;
  }

  /**
   * Stops a stream the run no longer needs, for `stop` (its reason, with its data): a running
   * attempt is signalled (the soft signal, or `sig`) and escalated, a launch is called off, a
   * queued or pending stream is cancelled at once. With `onlyIfAlive`, a running attempt whose leader has already exited
   * (or whose process group is gone) is left to its exit, still on its way, to decide its state.
   */
  stopFor(rt: StreamRt, stop: LaunchStop, opts: { sig?: NodeJS.Signals; onlyIfAlive?: boolean } = {}): void {
    const { e } = this;
    if (isTerminal(rt.phase.kind)) return;
    const att = attemptOf(rt);
    if (att) {
      const sig = opts.sig ?? e.plan.guardian.soft;
      if (opts.onlyIfAlive) {
        // The leader exited (a zombie not reaped yet, or reaped and its output draining): what
        // signal 0 still finds in its group is a leftover, and the exit decides the state.
        if (att.proc.leaderAlive?.() === false) return;
        if (!e.guardian.signal(rt, sig, stop.reason)) return;
        att.killReason = stop.reason;
        att.stoppedFor = stop;
        e.guardian.escalateAfterGrace(rt, att.proc, stop.reason);
      } else {
        att.stoppedFor = stop;
        e.guardian.stopAttempt(rt, att, stop.reason, sig);
      }
    } else if (rt.phase.kind === 'launching') {
      rt.phase.stopAs = stop;
      rt.phase.abort?.abort();
    } else {
      this.end(rt, 'cancelled', stop);
    }
  }

  /** Stops a replica whose group no longer needs it (it ends `cancelled`, reason `superseded`). */
  private supersede(id: string, stop: LaunchStop & { reason: 'superseded' }): void {
    const other = this.e.table.get(id);
    if (other) this.stopFor(other, stop);
  }

  /**
   * A `gather: vote` group is decided: replicas still running are stopped; its points merge
   * the winning replica (and forget the others), or fail when the replicas did not agree.
   */
  voteDecided(g: VoteGroup): void {
    for (const m of g.members) this.supersede(m, { reason: 'superseded', group: g.id, winner: g.state === 'won' ? g.winner : undefined });
    const points = new Set(g.members.flatMap((m) => this.e.table.pointsOf(m)));
    const noMajority: NoMajority = { reason: 'no-majority', group: g.id, results: [...g.results].map(([stream, digest]) => ({ stream, digest })) };
    for (const p of points) {
      if (g.state === 'won' && g.winner) {
        p.streamSucceeded(g.winner);
        for (const m of g.members) if (m !== g.winner) p.drop(m);
      } else {
        p.groupFailed(noMajority);
      }
    }
    this.e.afterChange();
  }
}
