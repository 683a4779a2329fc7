/**
 * The run's streams and convergence points: each stream's runtime record (StreamRt), the
 * points each stream belongs to, the `gather: first` groups, and the one way a stream moves
 * in its state machine (`moveTo`: asserted by stream-state.ts, then saved).
 */
import type { PointSpec, StreamSpec } from '../plan/types.js';
import type { MergeSource } from '../merge/merge.js';
import type { PointRunner } from '../convergence/point-runner.js';
import type { Engine, FirstGroup, StreamRt, TableRole } from './engine.js';
import { streamPaths } from '../supervise/environment.js';
import { isTerminal, move, type Phase, type PhaseKind } from './stream-state.js';

export class StreamTable implements TableRole {
  readonly streams = new Map<string, StreamRt>();
  readonly points = new Map<string, PointRunner>();
  private readonly pointsByStream = new Map<string, PointRunner[]>();
  /** `gather: first` groups by member id. */
  readonly firstGroups = new Map<string, FirstGroup>();
  /** Streams in a terminal state (the run ends when all are). */
  private endedCount = 0;

  constructor(private readonly e: Engine) {
    for (const g of Object.values(e.plan.groups ?? {})) {
      if (g.gather !== 'first') continue;
      const entry = { id: g.id, members: g.members, won: false };
      for (const m of g.members) this.firstGroups.set(m, entry);
    }
  }

  get(id: string): StreamRt | undefined {
    return this.streams.get(id);
  }

  all(): StreamRt[] {
    return [...this.streams.values()];
  }

  get size(): number {
    return this.streams.size;
  }

  /** Whether every stream has ended. */
  get allEnded(): boolean {
    return this.endedCount >= this.streams.size;
  }

  /** Whether `id` names a stream or a point. */
  has(id: string): boolean {
    return this.streams.has(id) || this.points.has(id);
  }

  /** Adds a stream's runtime record, pending (before the run, or by `coord spawn` during it). */
  track(spec: StreamSpec): StreamRt {
    if (this.streams.has(spec.id)) throw new Error(`duplicate stream id "${spec.id}"`);
    const paths = streamPaths(spec, this.e.runDir, this.e.workspaceDir);
    const rt: StreamRt = {
      spec,
      paths,
      rec: {
        id: spec.id,
        state: 'pending',
        attempt: 0,
        pid: null,
        pgid: null,
        procStartTime: null,
        exitCode: null,
        signal: null,
        reason: null,
        workspace: paths.workspace,
        ...(spec.outputs.length > 0 ? { outputs: [...spec.outputs] } : {}),
        capabilities: [...spec.capabilities],
        dependsOn: [...spec.dependsOn],
        resources: { ...spec.resources },
        startedAt: null,
        endedAt: null,
        lastHeartbeat: null,
      },
      phase: { kind: 'pending' },
      prepared: false,
      startedMs: 0,
      restarts: 0,
      feedbacks: 0,
      beatSavedMs: 0,
    };
    this.streams.set(spec.id, rt);
    return rt;
  }

  addPoint(spec: PointSpec, runner: PointRunner): void {
    this.points.set(spec.name, runner);
    for (const id of spec.streams) {
      const list = this.pointsByStream.get(id) ?? [];
      list.push(runner);
      this.pointsByStream.set(id, list);
    }
  }

  /** The points a stream belongs to. */
  pointsOf(id: string): PointRunner[] {
    return this.pointsByStream.get(id) ?? [];
  }

  /** Moves the stream in its state machine (every move asserted: see stream-state.ts) and saves its record. */
  moveTo<K extends PhaseKind>(rt: StreamRt, next: Phase<K>): Phase<K> {
    const wasTerminal = isTerminal(rt.phase.kind);
    move(rt, next);
    if (isTerminal(next.kind) && !wasTerminal) this.endedCount++;
    if (wasTerminal && !isTerminal(next.kind)) this.endedCount--;
    this.e.records.save(rt);
    return next;
  }

  /** A stream's workspace and `outputs` as they are. */
  workspaceOf(id: string): MergeSource {
    const rt = this.streams.get(id);
    if (!rt) throw new Error(`unknown stream "${id}"`);
    return { stream: id, dir: rt.paths.workspace, outputs: rt.spec.outputs };
  }

  /** `$COORD_INPUTS` of a stream: a link per dependency (see linkInputs). */
  inputLinks(spec: StreamSpec): Array<{ name: string; target: string }> {
    const links: Array<{ name: string; target: string }> = [];
    for (const dep of spec.dependsOn) {
      const p = this.points.get(dep);
      if (p) links.push({ name: dep, target: p.rec.target });
      const s = this.streams.get(dep);
      if (s) links.push({ name: dep, target: s.paths.workspace });
      // A `gather: vote` or `gather: first` group that won: `<group id>` is the winning replica's workspace.
      const g = this.e.voteGroups.of(dep) ?? this.firstGroups.get(dep);
      const winner = g?.winner ? this.streams.get(g.winner) : undefined;
      if (g && winner && !links.some((l) => l.name === g.id)) links.push({ name: g.id, target: winner.paths.workspace });
    }
    return links;
  }
}
