/**
 * The guardian: watches each running attempt's liveness (its heartbeat file and, by default,
 * its output), marks a silent one `stalled`, runs the plan's guardian command, and stops it —
 * the soft signal to its process group, SIGKILL after the grace — so that the exit policy
 * restarts it while `max_restarts` allows. It also sends every other signal the engine sends
 * to a stream, with the same escalation, and keeps a local attempt's heartbeat key on a
 * backend that expires keys. What it decides is carried out by each attempt's supervision
 * (AttemptProcess: the signals, the escalation's and time limit's timers, the attempt's slot
 * in the guardian's monitor, its heartbeat key); the guardian reports it (`stream-signalled`)
 * and moves the stream.
 */
import { readFileSync } from 'node:fs';
import type { BeatKeys } from '../backend/beat-writer.js';
import type { StopReason } from '../core/failures.js';
import { AttemptProcess } from '../supervise/attempt-process.js';
import { heartbeatSays, LivenessMonitor } from '../supervise/liveness.js';
import type { StreamProcess } from '../supervise/spawner.js';
import { realTimers, type Timers } from '../supervise/timers.js';
import type { Engine, GuardianRole, StreamRt } from './engine.js';
import { GuardianCommands } from './guardian-commands.js';
import { attemptOf, type Attempt } from './stream-state.js';

export class Guardian implements GuardianRole {
  readonly liveness: LivenessMonitor;
  private readonly commands: GuardianCommands;

  constructor(
    private readonly e: Engine,
    /** The timers of attempts' time limits and escalations (a fake clock in tests). */
    private readonly timers: Timers = realTimers,
  ) {
    this.commands = new GuardianCommands(e.spawner, (ev) => e.bus.emit(ev));
    this.liveness = new LivenessMonitor({
      timeoutMs: e.plan.heartbeat.timeoutMs,
      source: e.plan.heartbeat.source,
      onStall: (id, silentMs) => this.stalled(id, silentMs),
      onWatchError: (err) => e.bus.emit({ type: 'warning', message: `heartbeat file watching failed (${String(err)}); checking by polling only` }),
      onRevive: (id) => {
        const rt = e.table.get(id);
        if (rt?.phase.kind === 'stalled' && !rt.phase.attempt.killReason) e.table.moveTo(rt, { kind: 'running', attempt: rt.phase.attempt });
      },
      onBeat: (id, at, file) => {
        const rt = e.table.get(id);
        if (!rt) return;
        rt.rec.lastHeartbeat = at.toISOString();
        if (file) this.readHeartbeat(rt);
        attemptOf(rt)?.supervision.beat(at, { progress: rt.rec.progress ?? null, message: rt.rec.message ?? null });
        if (performance.now() - rt.beatSavedMs >= 1000) {
          rt.beatSavedMs = performance.now();
          e.records.save(rt);
          e.bus.transient({ type: 'stream-beat', stream: id, attempt: rt.rec.attempt, progress: rt.rec.progress ?? null, message: rt.rec.message ?? null });
        }
      },
    });
  }

  /** A started process of the stream under supervision: on the guardian's timers, its liveness the stream's slot in the guardian's monitor. */
  supervise(rt: StreamRt, proc: StreamProcess): AttemptProcess {
    return new AttemptProcess({ heartbeatFile: rt.paths.heartbeatFile, shared: { monitor: this.liveness, id: rt.spec.id }, timers: this.timers }).attach(proc);
  }

  /** Starts watching a running attempt's liveness (and, on a backend that expires keys, keeps its heartbeat key). */
  watch(rt: StreamRt, attempt: Attempt): void {
    attempt.supervision.watch();
    const b = this.e.backend;
    // a worker keeps a remote attempt's key
    if (!b.putBeat || !b.endBeat || attempt.proc.worker !== undefined) return;
    attempt.supervision.keepBeat(b as BeatKeys, {
      runId: this.e.runId,
      stream: rt.spec.id,
      attempt: rt.rec.attempt,
      startedAt: rt.rec.startedAt,
      worker: null,
      ttlMs: this.e.plan.heartbeat.timeoutMs,
    });
  }

  /** The attempt ended: no more watching; its heartbeat key goes (a remote one's worker deletes its own, unless lost). */
  unwatch(rt: StreamRt, attempt: Attempt, lost: boolean): void {
    attempt.supervision.unwatch();
    const beats = attempt.supervision.releaseBeat();
    const { proc } = attempt;
    const b = this.e.backend;
    if (beats) this.e.records.write(() => beats.finish());
    else if (lost && proc.worker !== undefined && b.endBeat) {
      const { id } = rt.spec;
      const n = rt.rec.attempt;
      this.e.records.write(() => b.endBeat!(this.e.runId, id, n).catch(() => undefined));
    }
  }

  /** Progress and message from the heartbeat file `coord heartbeat` writes (a touched file has none). */
  readHeartbeat(rt: StreamRt): void {
    let hb: ReturnType<typeof heartbeatSays>;
    try {
      hb = heartbeatSays(readFileSync(rt.paths.heartbeatFile, 'utf8'));
    } catch {
      return; // gone meanwhile
    }
    if (!hb) return; // not JSON: a touch or a rename of the stream's own
    rt.rec.progress = hb.progress;
    rt.rec.message = hb.message;
    this.e.records.save(rt);
  }

  /** No beat for `heartbeat.timeout`: the stream is stalled; the guardian stops it (soft, then hard). */
  private stalled(id: string, silentMs: number): void {
    const { e } = this;
    const rt = e.table.get(id);
    const att = rt && attemptOf(rt);
    if (!rt || !att || e.flags.stopping) return;
    e.bus.emit({ type: 'stream-stalled', stream: id, attempt: rt.rec.attempt, lastHeartbeat: rt.rec.lastHeartbeat, silentMs });
    // (stalled again after a beat that came while it was being stopped: it still is)
    if (rt.phase.kind === 'running') e.table.moveTo(rt, { kind: 'stalled', attempt: att });
    if (e.plan.guardian.command) {
      this.commands.run(e.plan.guardian.command, {
        id,
        attempt: rt.rec.attempt,
        lastHeartbeat: rt.rec.lastHeartbeat,
        workspace: rt.paths.workspace,
        logDir: rt.paths.logDir,
        env: e.attempts.envOf(rt, rt.rec.attempt),
      });
    }
    if (!e.plan.guardian.autoInvoke) return;
    this.stopAttempt(rt, att, 'heartbeat-timeout');
  }

  /** Stops a running attempt for `reason` (which decides its end): `sig` (the soft signal), SIGKILL after the grace. */
  stopAttempt(rt: StreamRt, att: Attempt, reason: StopReason, sig: NodeJS.Signals = this.e.plan.guardian.soft): void {
    att.killReason = reason;
    this.signal(rt, sig, reason);
    this.escalateAfterGrace(rt, att.proc, reason);
  }

  /** Signals the stream's process group; false when nothing of it was left to signal. */
  signal(rt: StreamRt, sig: NodeJS.Signals, reason: string): boolean {
    if (!attemptOf(rt)?.supervision.signal(sig)) return false;
    this.e.bus.emit({ type: 'stream-signalled', stream: rt.spec.id, attempt: rt.rec.attempt, signal: sig, reason });
    return true;
  }

  /** SIGKILL after the guardian's grace, unless the attempt of `proc` has ended (or is no longer the stream's) by then. */
  escalateAfterGrace(rt: StreamRt, proc: StreamProcess, reason: string): void {
    const att = attemptOf(rt);
    if (att?.proc !== proc) return;
    // `killed`: something of the stream's group outlived the soft signal and its grace.
    att.supervision.escalate(this.e.plan.guardian.graceMs, () => attemptOf(rt) === att && this.signal(rt, 'SIGKILL', reason));
  }

  /** The attempt's own time limit (`timeout:`): stopped with reason `timeout` once it has run that long. */
  limit(rt: StreamRt, att: Attempt, timeoutMs: number): void {
    att.supervision.limit(timeoutMs, () => {
      if (attemptOf(rt) === att) this.stopAttempt(rt, att, 'timeout');
    });
  }

  /** The attempt ended: its time limit and escalations are called off. */
  clearTimers(att: Attempt): void {
    att.supervision.end();
  }

  /** The run ends: no more watching. */
  close(): void {
    this.liveness.stop();
  }

  /** Guardian commands still running get the grace to end. */
  settle(): Promise<void> {
    return this.commands.settle(this.e.plan.guardian.graceMs);
  }
}
