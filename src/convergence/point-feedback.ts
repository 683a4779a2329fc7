/**
 * `feedback: N` on a point: a stream whose changes break the point's check (a culprit the
 * search named, `verify:` with `on_verify_failure: exclude`) or conflict with another's (the
 * later of the streams of a conflict, in merge order) runs again as its next attempt, in its own
 * workspace with its earlier work still there, `COORD_FEEDBACK` naming a file that says what
 * broke: the check's command and the end of its output, or the conflicting paths with the base,
 * its own and the other side's versions. At most N times a stream; then the point merges and
 * checks again, and a culprit out of feedback is left out as without it.
 */
import { join } from 'node:path';
import type { CheckRecord } from '../backend/types.js';
import { MATERIAL_DIR } from '../merge/conflicts.js';
import type { MergeResult } from '../merge/merge.js';
import type { PointSpec } from '../plan/types.js';
import { commandText, logTail } from './point-check.js';
import { conflictMessage, recordMerge, type MergingPoint } from './point-merge.js';
import type { PointHost, PointSide } from './point-types.js';

/** How many lines of a failed check's output a feedback file quotes. */
const TAIL_LINES = 60;

export class PointFeedback {
  private readonly used = new Map<string, number>();

  constructor(
    private readonly spec: PointSpec,
    private readonly host: Pick<PointHost, 'feedback'>,
    private readonly conflictDir: string,
  ) {}

  private left(id: string): boolean {
    return (this.used.get(id) ?? 0) < (this.spec.feedback ?? 0);
  }

  private give(id: string, because: 'verify' | 'conflict', text: string): boolean {
    if (!this.left(id) || !this.host.feedback(id, because, text)) return false;
    this.used.set(id, (this.used.get(id) ?? 0) + 1);
    return true;
  }

  /**
   * Culprits with feedback left run again, each told of the last failed check its changes were
   * in (`checks`: the point's); the ones that do. The others are left out by the caller.
   */
  culprits(ids: readonly string[], checks: readonly CheckRecord[], command: string | string[]): string[] {
    return ids.filter((id) => {
      const check = [...checks].reverse().find((c) => c.streams.includes(id) && (c.outcome === 'failed' || c.outcome === 'timed-out'));
      return this.give(id, 'verify', this.checkText(id, check, command));
    });
  }

  /**
   * A merge that conflicted, on a point with feedback: its conflicts are recorded (their material
   * written) and the later stream of each runs again; true when they do (the point waits for
   * them), false when none has feedback left (the caller fails the point on its conflicts).
   */
  onConflict(point: PointSide & MergingPoint, result: MergeResult, merged: readonly string[]): boolean {
    if (!this.spec.feedback) return false;
    const failure = recordMerge(point, result);
    const again = this.conflicts(result, merged);
    if (again.length === 0) {
      if (failure) point.fail(failure, conflictMessage(failure));
      return true;
    }
    point.rec.conflicts = [];
    point.rec.conflictStreams = [];
    point.again(again);
    return true;
  }

  /**
   * A merge of `merged` (in merge order) that conflicted: the later stream of each conflict runs
   * again, told which paths and where their versions are; the ones that do ([] when none has
   * feedback left: the point fails on its conflicts). The material must be written already.
   */
  conflicts(result: MergeResult, merged: readonly string[]): string[] {
    const order = (id: string): number => merged.indexOf(id);
    const byStream = new Map<string, Array<{ path: string; others: string[] }>>();
    for (const c of result.conflicts) {
      const parties = [...c.streams].sort((a, b) => order(a) - order(b));
      const later = parties.at(-1);
      if (later === undefined || parties.length < 2) continue;
      const list = byStream.get(later) ?? [];
      list.push({ path: c.path, others: parties.slice(0, -1) });
      byStream.set(later, list);
    }
    const candidates = [...byStream.keys()].filter((id) => this.left(id));
    // all or none: a merge that still conflicts elsewhere would fail anyway
    if (candidates.length < byStream.size) return [];
    return candidates.filter((id) => this.give(id, 'conflict', this.conflictText(id, byStream.get(id) ?? [])));
  }

  private checkText(id: string, check: CheckRecord | undefined, command: string | string[]): string {
    const lines = [`# What broke: the check of convergence point ${this.spec.name}`, ''];
    if (!check) {
      lines.push(`Your changes break the check \`${commandText(command)}\` of point ${this.spec.name}.`);
    } else {
      const others = check.streams.filter((s) => s !== id);
      const how = check.outcome === 'timed-out' ? 'timed out' : check.signal ? `was ended by ${check.signal}` : `exited ${check.exitCode}`;
      lines.push(
        `The check \`${commandText(command)}\` ${how} on the merge of your changes${others.length > 0 ? ` with those of ${others.join(', ')}` : ''}, and passes without yours.`,
        '',
        `The end of its output (all of it: ${check.log}):`,
        '',
        '```',
        logTail(check.log, TAIL_LINES),
        '```',
      );
    }
    lines.push('', 'Your workspace still has your earlier work: change it so that the check passes.', '');
    return lines.join('\n');
  }

  private conflictText(id: string, conflicts: Array<{ path: string; others: string[] }>): string {
    const material = join(this.conflictDir, MATERIAL_DIR);
    const lines = [`# What broke: your changes conflict at convergence point ${this.spec.name}`, ''];
    for (const c of conflicts) {
      lines.push(
        `- \`${c.path}\`: changed by you and by ${c.others.join(', ')}`,
        `  - base: ${join(material, 'base', c.path)}`,
        `  - yours: ${join(material, 'streams', id, c.path)}`,
        ...c.others.map((o) => `  - ${o}'s: ${join(material, 'streams', o, c.path)}`),
        `  - merged, with conflict markers where the changes overlap: ${join(this.conflictDir, c.path)}`,
      );
    }
    lines.push('', 'A version missing above was deleted by that side. Change your work at these paths so that it no longer conflicts with theirs.', '');
    return lines.join('\n');
  }
}
