/**
 * GitHub Actions, the way lage's GithubActionsReporter does it: each stream's output is held
 * until the stream ends and then printed at once inside `::group::<id> (<state>, <duration>)`
 * … `::endgroup::`, so the log folds per stream and the lines of parallel streams never
 * interleave; run-level events and the summary print outside groups; what failed becomes an
 * `::error` annotation on the plan file, at the line of the stream's or the point's entry.
 *
 * Workflow commands: https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands
 * (the escaping is the toolkit's `escapeData` and `escapeProperty`, packages/core/src/command.ts).
 * Stream output is printed as it was written, so that problem matchers and a stream's own
 * workflow commands (a linter's `::error`) work as they would outside coord.
 */
import { isAbsolute, relative } from 'node:path';
import type { CoordEvent } from '../events/types.js';
import type { RunOutcome } from '../orchestrator/coordinator.js';
import type { PointSpec, SourcePos, StreamSpec } from '../plan/types.js';
import { formatDuration } from '../util/duration.js';
import type { Colors } from './color.js';
import { eventLine, quietShows, unprinted } from './plain.js';
import { StreamLines, type StreamLinesLimits } from './groups.js';
import { formatSummary, streamProblem } from './summary.js';
import type { Reporter, ReporterOptions } from './types.js';

/** The message of a workflow command: `%`, CR and LF escaped (the runner turns them back). */
export function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A property value of a workflow command: as {@link escapeData}, and `:` and `,`, which end a value. */
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** `::name key=value,…::message`, every part escaped; properties left undefined are left out. */
export function workflowCommand(name: string, props: Record<string, string | number | undefined>, message: string): string {
  const list = Object.entries(props)
    .filter((kv): kv is [string, string | number] => kv[1] !== undefined)
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(',');
  return `::${name}${list ? ` ${list}` : ''}::${escapeData(message)}`;
}

/**
 * The plan file as annotations name it: relative to the repository (GITHUB_WORKSPACE) when the
 * plan is inside it, which is what GitHub links to the file; else relative to `cwd`.
 */
export function annotationFile(planFile: string, env: NodeJS.ProcessEnv, cwd: string): string {
  const inside = (base: string): string | undefined => {
    const rel = relative(base, planFile);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : undefined;
  };
  return (env.GITHUB_WORKSPACE ? inside(env.GITHUB_WORKSPACE) : undefined) ?? (relative(cwd, planFile) || planFile);
}

/** Where the plan's entries stand: its streams (expanded members at their entry's line) and points. */
export interface PlanPlaces {
  streams: ReadonlyArray<Pick<StreamSpec, 'id' | 'pos'>>;
  points: ReadonlyArray<Pick<PointSpec, 'name' | 'pos'>>;
}

/**
 * `::error` annotations for what failed: a stream at its entry's line (a stream `coord spawn`
 * added has none: the annotation is on the file), a point at its own.
 */
export function githubAnnotations(outcome: RunOutcome, plan: PlanPlaces, file: string): string {
  const streamAt = new Map<string, SourcePos | undefined>(plan.streams.map((s) => [s.id, s.pos]));
  const pointAt = new Map<string, SourcePos | undefined>(plan.points.map((p) => [p.name, p.pos]));
  const out: string[] = [];
  for (const s of outcome.streams.filter((x) => x.state === 'failed')) {
    out.push(workflowCommand('error', { file, line: streamAt.get(s.id)?.line, title: `coord: stream ${s.id}` }, streamProblem(s)));
  }
  for (const p of outcome.points.filter((x) => x.state === 'failed')) {
    const what = `${p.reason ?? 'failed'}${p.conflicts.length ? `: ${p.conflicts.join(', ')}` : p.message ? `: ${p.message}` : ''}`;
    out.push(workflowCommand('error', { file, line: pointAt.get(p.name)?.line, title: `coord: convergence point ${p.name}` }, what));
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** The GitHub Actions reporter (`--reporter github`, and the default when GITHUB_ACTIONS=true). */
export class GithubReporter implements Reporter {
  private readonly c: Colors;
  private readonly opts: ReporterOptions;
  private readonly lines: StreamLines;

  constructor(opts: ReporterOptions, colors: Colors, limits?: StreamLinesLimits) {
    this.opts = opts;
    this.c = colors;
    this.lines = new StreamLines(limits);
  }

  onEvent(e: CoordEvent): void {
    if (unprinted(e)) return;
    if (this.opts.quiet) {
      // --quiet forwards no output lines: there is nothing to fold, only the lines it shows
      if (quietShows(e)) this.write(eventLine(e, this.c) + '\n');
      return;
    }
    if (e.type === 'stream-output') return this.lines.add(e.stream, e.line);
    if (e.type === 'stream-ended') return this.group(e.stream, e.state, e.durationMs, eventLine(e, this.c));
    // a stream's own progress (started, exited, retrying, signalled, stalled) folds with its output;
    // a skip is the run's decision about a stream that never ran, so it stays in sight
    const stream = e.type.startsWith('stream-') && e.type !== 'stream-skipped' && 'stream' in e ? e.stream : undefined;
    if (stream !== undefined) return this.lines.add(stream, eventLine(e, this.c));
    this.write(eventLine(e, this.c) + '\n');
  }

  done(outcome: RunOutcome): void {
    // streams that never ended (the run stopped under them) still get their group
    const states = new Map(outcome.streams.map((s) => [s.id, s]));
    for (const id of this.lines.streams()) {
      const s = states.get(id);
      const ms = s?.startedAt && s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : 0;
      this.group(id, s?.state ?? 'unfinished', ms);
    }
    this.lines.close();
    this.write('\n' + formatSummary(outcome, this.c));
  }

  /** Prints `stream`'s group (or, for a stream that printed nothing and never started, its last line alone). */
  private group(stream: string, state: string, durationMs: number, last?: string): void {
    if (!this.lines.has(stream)) {
      if (last !== undefined) this.write(last + '\n');
      return;
    }
    this.write(`::group::${escapeData(`${stream} (${state}, ${formatDuration(durationMs)})`)}\n`);
    this.lines.take(stream, (chunk) => this.write(chunk));
    if (last !== undefined) this.write(last + '\n');
    this.write('::endgroup::\n');
  }

  private write(chunk: string | Buffer): void {
    // one stream for everything: a group's lines on stderr could land outside it in the log
    this.opts.stdout.write(chunk);
  }
}
