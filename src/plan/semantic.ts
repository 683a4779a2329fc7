/**
 * The checks a schema cannot express: unique ids, known dependencies, no cycles, resource
 * demands within their pools, isolated workspaces kept apart, and consistent convergence
 * types. They run on whatever parts of the document are well-formed enough.
 */
import { resolve } from 'node:path';
import { findCycles } from '../graph/cycles.js';
import type { Diagnostic } from './diagnostics.js';
import { formatPath, type Locator, type PathSegment } from './locate.js';
import { closest } from './suggest.js';
import { CAPABILITY_PREFIX, type SourcePos } from './types.js';
import { isRecord, own, pointViews, resolveMembers, streamViews, type PointView, type StreamView } from './views.js';

const POINTS = ['agent_coordination', 'convergence_points'] as const;
const q = JSON.stringify;
const at = (p: SourcePos): string => `${p.line}:${p.col}`;

/** Every semantic error of the raw document `data`; `dir` resolves relative workspaces. */
export function semanticChecks(data: unknown, loc: Locator, dir: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (path: readonly PathSegment[], message: string, pos?: SourcePos): void => {
    out.push(loc.diag(pos ?? loc.at(path), `${formatPath(path)}: ${message}`));
  };
  const streams = streamViews(data);
  const points = pointViews(data);
  const streamPath = (s: StreamView): PathSegment[] => ['streams', s.index];
  const pointPath = (p: PointView): PathSegment[] => [...POINTS, p.index];
  const pointNamePos = (p: PointView): SourcePos => loc.at(p.named ? [...pointPath(p), 'name'] : pointPath(p));

  // Unique ids.
  const byId = new Map<string, StreamView>();
  for (const s of streams) {
    const first = byId.get(s.id);
    if (first) report([...streamPath(s), 'id'], `duplicate id ${q(s.id)} (first defined at ${at(loc.at([...streamPath(first), 'id']))})`);
    else byId.set(s.id, s);
  }
  const byName = new Map<string, PointView>();
  for (const p of points) {
    const first = byName.get(p.name);
    const path = p.named ? [...pointPath(p), 'name'] : pointPath(p);
    const stream = byId.get(p.name);
    if (first) report(path, `duplicate convergence point ${q(p.name)} (first defined at ${at(pointNamePos(first))})`);
    else byName.set(p.name, p);
    if (stream) {
      const spos = loc.at([...streamPath(stream), 'id']);
      report(path, `convergence point ${q(p.name)} has the same name as a stream (defined at ${at(spos)})`);
    }
  }
  const known = [...byId.keys(), ...byName.keys()];

  // Dependencies. `capability:NAME` stands for every other stream offering NAME.
  const offering = (cap: string, self: string): string[] => streams.filter((o) => o.id !== self && o.capabilities.includes(cap)).map((o) => o.id);
  const allCaps = [...new Set(streams.flatMap((o) => o.capabilities))];
  for (const s of streams) {
    for (const d of s.dependsOn) {
      const path = [...streamPath(s), 'depends_on', d.index];
      if (d.name.startsWith(CAPABILITY_PREFIX)) {
        const cap = d.name.slice(CAPABILITY_PREFIX.length);
        if (offering(cap, s.id).length === 0) {
          const hint = closest(cap, allCaps);
          report(path, `no other stream offers capability ${q(cap)}${hint ? ` (did you mean ${q(hint)}?)` : ''}`);
        }
        continue;
      }
      if (d.name === s.id) report(path, `stream ${q(s.id)} depends on itself`);
      else if (!byId.has(d.name) && !byName.has(d.name)) {
        const hint = closest(d.name, known);
        report(path, `unknown dependency ${q(d.name)}: no stream or convergence point has that name${hint ? ` (did you mean ${q(hint)}?)` : ''}`);
      }
    }
  }
  for (const p of points) {
    for (const r of p.streams ?? []) {
      if (byId.has(r.name)) continue;
      const path = [...pointPath(p), 'streams', r.index];
      if (byName.has(r.name)) report(path, `${q(r.name)} is a convergence point; a point can only list streams`);
      else {
        const hint = closest(r.name, byId.keys());
        report(path, `unknown stream ${q(r.name)}${hint ? ` (did you mean ${q(hint)}?)` : ''}`);
      }
    }
  }

  // Cycles across streams and points (self-dependencies are reported above).
  // A point named like a stream is an error above; leave it out so the stream keeps its edges.
  const graphPoints = [...byName.values()].filter((p) => !byId.has(p.name));
  const isNode = (n: string): boolean => byId.has(n) || byName.has(n);
  const expandCaps = (s: StreamView): string[] =>
    s.dependsOn.flatMap((d) => (d.name.startsWith(CAPABILITY_PREFIX) ? offering(d.name.slice(CAPABILITY_PREFIX.length), s.id) : [d.name]));
  const firstStreams = [...byId.values()].map((s) => ({
    id: s.id,
    dependsOn: expandCaps(s).filter((n) => n !== s.id && isNode(n)),
  }));
  const firstPoints = graphPoints.map((p) => (p.streams ? { name: p.name, streams: p.streams.map((r) => r.name) } : { name: p.name }));
  const members = resolveMembers(firstStreams, firstPoints);
  const edges = new Map<string, string[]>();
  for (const s of firstStreams) edges.set(s.id, s.dependsOn);
  for (const [name, list] of members) edges.set(name, list);
  for (const cycle of findCycles(edges)) {
    const [from, to] = cycle;
    if (from === undefined || to === undefined) continue;
    const s = byId.get(from);
    const p = s ? undefined : byName.get(from);
    let path: PathSegment[] = [];
    if (s) {
      const direct = s.dependsOn.find((d) => d.name === to);
      const viaCap = s.dependsOn.find(
        (d) => d.name.startsWith(CAPABILITY_PREFIX) && byId.get(to)?.capabilities.includes(d.name.slice(CAPABILITY_PREFIX.length)),
      );
      path = [...streamPath(s), 'depends_on', (direct ?? viaCap)?.index ?? 0];
    } else if (p) {
      const r = p.streams?.find((x) => x.name === to);
      path = r ? [...pointPath(p), 'streams', r.index] : pointPath(p);
    }
    report(path, `dependency cycle: ${cycle.join(' -> ')}`);
  }

  checkResources(data, streams, report, loc);
  checkWorkspaces(streams, dir, report, loc);
  checkConvergence(points, byId, report);
  checkCommandsAndOutputs(data, report);
  checkVerify(data, report);
  return out;
}

/** The options of `verify:` need a `verify:`; `exclude` and `keep_going` ask for opposite things. */
function checkVerify(data: unknown, report: Report): void {
  const points = own(own(data, 'agent_coordination'), 'convergence_points');
  if (!Array.isArray(points)) return;
  points.forEach((p: unknown, i) => {
    if (!isRecord(p)) return;
    const path = [...POINTS, i];
    if (own(p, 'resolve_timeout') !== undefined && own(p, 'resolve') === undefined)
      report([...path, 'resolve_timeout'], 'resolve_timeout needs a resolve command on the same point');
    const feedback = own(p, 'feedback');
    if (typeof feedback === 'number' && feedback > 0 && own(p, 'verify') !== undefined && own(p, 'on_verify_failure') !== 'exclude') {
      report([...path, 'feedback'], 'feedback goes to the streams the check finds to break it: it needs on_verify_failure: exclude');
    }
    if (own(p, 'verify') === undefined) {
      for (const key of ['verify_timeout', 'verify_retries', 'on_verify_failure', 'verify_max_runs']) {
        if (own(p, key) !== undefined) report([...path, key], `${key} needs a verify command on the same point`);
      }
    } else if (own(p, 'on_verify_failure') === 'exclude' && own(p, 'keep_going') === true) {
      report(
        [...path, 'on_verify_failure'],
        'on_verify_failure: exclude leaves out the streams that broke the check; keep_going merges every stream: choose one',
      );
    }
  });
}

type Report = (path: readonly PathSegment[], message: string, pos?: SourcePos) => void;

function checkResources(data: unknown, streams: StreamView[], report: Report, loc: Locator): void {
  const pools = own(own(data, 'agent_coordination'), 'resources');
  if (pools !== undefined && !isRecord(pools)) return; // a schema error already
  const declared = pools === undefined ? [] : Object.keys(pools);
  for (const s of streams) {
    for (const { name, units } of s.resources) {
      const path = ['streams', s.index, 'resources', name];
      if (!declared.includes(name)) {
        const hint = closest(name, declared);
        const more = hint
          ? ` (did you mean ${q(hint)}?)`
          : declared.length === 0
            ? ' (agent_coordination.resources declares no pools)'
            : ` (declared: ${declared.join(', ')})`;
        report(path, `unknown resource pool ${q(name)}${more}`, loc.keyAt(path.slice(0, -1), name));
        continue;
      }
      const cap = own(pools, name);
      if (typeof cap === 'number' && Number.isInteger(cap) && cap >= 1 && units > cap) {
        report(path, `demand ${name}=${units} exceeds the pool's capacity ${cap}`);
      }
    }
  }
}

function checkWorkspaces(streams: StreamView[], dir: string, report: Report, loc: Locator): void {
  const seen = new Map<string, StreamView[]>();
  for (const s of streams) {
    if (s.workspace === undefined) continue;
    const abs = resolve(dir, s.workspace);
    const earlier = seen.get(abs) ?? [];
    const clash = earlier.find((e) => e.isolation !== 'shared' || s.isolation !== 'shared');
    if (clash) {
      const mode = s.isolation !== 'shared' ? s.isolation : clash.isolation;
      report(
        ['streams', s.index, 'workspace'],
        `workspace ${q(abs)} is also the workspace of stream ${q(clash.id)} (at ${at(loc.at(['streams', clash.index, 'workspace']))}); ${mode === 'isolated' ? 'an' : 'a'} ${mode} stream needs a directory of its own`,
      );
    }
    seen.set(abs, [...earlier, s]);
  }
}

function checkConvergence(points: PointView[], byId: Map<string, StreamView>, report: Report): void {
  for (const p of points) {
    if (!p.streams) continue;
    const listed = p.streams.flatMap((r) => {
      const s = byId.get(r.name);
      return s?.convergence ? [{ r, s, conv: s.convergence }] : [];
    });
    if (p.type) {
      for (const { r, s, conv } of listed) {
        if (conv !== p.type) {
          report([...POINTS, p.index, 'streams', r.index], `stream ${q(s.id)} asks for ${conv} convergence but point ${q(p.name)} is ${p.type}`);
        }
      }
    } else if (new Set(listed.map((x) => x.conv)).size > 1) {
      const wants = listed.map((x) => `${x.s.id} wants ${x.conv}`).join(', ');
      report([...POINTS, p.index, 'streams'], `point ${q(p.name)} has no type and its streams disagree (${wants}); set its type`);
    }
  }
}

function checkCommandsAndOutputs(data: unknown, report: Report): void {
  const list = own(data, 'streams');
  if (!Array.isArray(list)) return;
  list.forEach((s: unknown, i) => {
    const cmd = own(s, 'command');
    if (Array.isArray(cmd) && typeof cmd[0] === 'string' && cmd[0].trim() === '') {
      report(['streams', i, 'command', 0], 'the program name (first item) must not be empty');
    }
    const outputs = own(s, 'outputs');
    if (!Array.isArray(outputs)) return;
    outputs.forEach((o: unknown, j) => {
      if (typeof o !== 'string') return;
      if (o.startsWith('/') || /^[A-Za-z]:/.test(o) || o.split(/[/\\]/).includes('..')) {
        report(['streams', i, 'outputs', j], `output glob ${q(o)} must be relative and stay inside the workspace`);
      } else if (o.trim() === '') report(['streams', i, 'outputs', j], 'an output glob must not be empty');
    });
  });
}
