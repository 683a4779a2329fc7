/**
 * Map and scatter: a stream with `for_each` becomes one stream `<id>-<n>` per value (or file
 * of a glob), each with COORD_ITEM; a stream with `replicas: N` becomes N streams `<id>-<n>`
 * with COORD_REPLICA. The entry's id names the group: in `depends_on` and in a point's
 * `streams` it stands for every member. Runs after normalization, on a valid plan.
 */
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import picomatch from 'picomatch';
import type { Diagnostic } from './diagnostics.js';
import type { Locator } from './locate.js';
import type { PlanDocument } from './schema.js';
import { CAPABILITY_PREFIX, STREAM_ID_PATTERN, type GatherMode, type Plan, type StreamGroup, type StreamSpec } from './types.js';

/** At most this many members per group (a mistyped glob should not start a million streams). */
export const MAX_GROUP_MEMBERS = 10_000;

/** Expands groups in `plan` in place; returns the errors found (the plan is unusable then). */
export function expandGroups(plan: Plan, doc: PlanDocument, loc: Locator): Diagnostic[] {
  const errors: Diagnostic[] = [];
  const groups: Record<string, StreamGroup> = Object.create(null) as Record<string, StreamGroup>;
  const taken = new Set(plan.streams.map((s) => s.id));
  const expanded: StreamSpec[] = [];
  plan.streams.forEach((spec, i) => {
    const raw = doc.streams[i];
    const at = (field: string) => loc.at(['streams', i, field]);
    const fail = (field: string, message: string) => errors.push(loc.diag(at(field), `streams[${i}].${field}: ${message}`));
    if (!raw || (raw.for_each === undefined && raw.replicas === undefined)) {
      if (raw?.gather !== undefined) fail('gather', 'gather applies to a stream with replicas');
      expanded.push(spec);
      return;
    }
    if (raw.for_each !== undefined && raw.replicas !== undefined) {
      fail('replicas', 'a stream takes for_each or replicas, not both');
      return;
    }
    let items: Array<{ env: Record<string, string> }>;
    let gather: GatherMode = 'all';
    if (raw.replicas !== undefined) {
      items = Array.from({ length: raw.replicas }, (_, n) => ({ env: { COORD_REPLICA: String(n + 1) } }));
      gather = raw.gather ?? 'all';
    } else {
      if (raw.gather !== undefined) fail('gather', 'gather applies to a stream with replicas');
      const fe = raw.for_each;
      const values = Array.isArray(fe) ? fe.map(String) : globFiles(plan.dir, fe?.glob ?? '');
      if (values.length === 0) {
        fail('for_each', `the glob ${JSON.stringify(Array.isArray(fe) ? '' : fe?.glob)} matches no file under ${plan.dir}`);
        return;
      }
      items = values.map((v) => ({ env: { COORD_ITEM: v } }));
    }
    if (items.length > MAX_GROUP_MEMBERS) {
      fail(raw.replicas !== undefined ? 'replicas' : 'for_each', `${items.length} streams is more than ${MAX_GROUP_MEMBERS}`);
      return;
    }
    const members: string[] = [];
    items.forEach((item, n) => {
      const id = `${spec.id}-${n + 1}`;
      if (!STREAM_ID_PATTERN.test(id)) fail('id', `the expanded id "${id}" is too long (at most 64 characters)`);
      else if (taken.has(id)) fail('id', `the expanded id "${id}" is already the id of another stream`);
      taken.add(id);
      members.push(id);
      expanded.push({ ...spec, id, env: { ...spec.env, ...item.env }, group: spec.id });
    });
    groups[spec.id] = { id: spec.id, members, gather };
  });
  if (errors.length > 0) return errors;
  const expand = (names: string[]): string[] => names.flatMap((n) => groups[n]?.members ?? [n]);
  // `capability:NAME`: every other stream (group members included) that offers NAME.
  const byCapability = (cap: string, self: StreamSpec): string[] =>
    expanded.filter((o) => o.id !== self.id && (self.group === undefined || o.group !== self.group) && o.capabilities.includes(cap)).map((o) => o.id);
  for (const s of expanded) {
    s.dependsOn = [
      ...new Set(expand(s.dependsOn).flatMap((d) => (d.startsWith(CAPABILITY_PREFIX) ? byCapability(d.slice(CAPABILITY_PREFIX.length), s) : [d]))),
    ];
  }
  for (const p of plan.points) {
    p.streams = expand(p.streams);
    if (p.approve) p.approve.voters = [...new Set(expand(p.approve.voters))];
  }
  plan.streams = expanded;
  plan.groups = groups;
  return [];
}

/** Files under `dir` matching `pattern` (relative, picomatch), as absolute paths, sorted. */
export function globFiles(dir: string, pattern: string): string[] {
  const isMatch = picomatch(pattern, { dot: false });
  const base = resolve(dir, picomatch.scan(pattern).base || '.');
  let entries: string[];
  try {
    entries = readdirSync(base, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath ?? e.path, e.name));
  } catch {
    return [];
  }
  return entries.filter((abs) => isMatch(relative(dir, abs))).sort();
}
