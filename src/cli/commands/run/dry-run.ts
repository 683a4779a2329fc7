/**
 * `coord run --dry-run`: the order a run starts its streams in, without running anything. The
 * waves come from the graph the run engine schedules by (src/graph/ `buildGraph`, over the
 * same plan), so what is printed is what the scheduler does with unlimited concurrency.
 */
import { buildGraph } from '../../../graph/graph.js';
import type { ConvergenceType, Plan } from '../../../plan/types.js';

/** What `--dry-run --json` prints (SPEC §5 shape: fields may be added, never renamed). */
export interface DryRun {
  plan: string;
  /** Stream ids by wave: a wave starts once what its streams wait for in earlier waves is met. */
  waves: string[][];
  points: Array<{ name: string; type: ConvergenceType; streams: string[] }>;
}

/** The waves and the points of a validated plan. */
export function dryRun(plan: Plan): DryRun {
  return {
    plan: plan.name,
    waves: buildGraph(plan).waves(),
    points: plan.points.map((p) => ({ name: p.name, type: p.type, streams: p.streams })),
  };
}

/** The text form: a numbered line per wave, then a line per point. */
export function formatDryRun(d: DryRun): string {
  const waves = d.waves.map((ids, i) => `${i + 1}. ${ids.join(' ')}\n`);
  const points = d.points.map((p) => `point ${p.name} (${p.type}): ${p.streams.join(' ')}\n`);
  return [...waves, ...points].join('');
}
