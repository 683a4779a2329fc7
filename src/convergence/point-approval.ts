/**
 * `approve:` of a convergence point: nothing is published before a quorum approves it. The
 * merge waits in `<run dir>/review/<point>/`, the approval proposal opens with that directory
 * to review, and the point stays `waiting` until the decision: accepted, the review directory
 * is renamed to the target and the point is done; rejected (or timed out), the point fails with
 * reason `rejected`, and the review directory stays for inspection.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PointOptions, PointSide } from './point-types.js';

export class PointApproval {
  constructor(
    private readonly approve: PointOptions['approve'],
    private readonly point: PointSide,
  ) {}

  /** Asks for approval of the merge in `review`; false (and the point failed) unless accepted. */
  async approved(review: string): Promise<boolean> {
    const { point } = this;
    if (!this.approve || point.settled()) return !point.settled();
    point.rec.approval = { state: 'pending', review };
    point.setState('waiting');
    const verdict = await this.approve(review);
    if (point.settled()) return false;
    point.rec.approval = { state: verdict.accepted ? 'accepted' : 'rejected', review };
    if (!verdict.accepted) {
      point.fail(verdict.runEnded ? { reason: 'cancelled' } : { reason: 'rejected', message: verdict.message }, verdict.message);
      return false;
    }
    return true;
  }

  /** Approval, then the reviewed merge takes the target's place. */
  async publish(review: string): Promise<void> {
    const { rec } = this.point;
    mkdirSync(review, { recursive: true, mode: 0o700 }); // a merge of nothing may have made no directory
    if (!(await this.approved(review))) return;
    mkdirSync(dirname(rec.target), { recursive: true, mode: 0o700 });
    rmSync(rec.target, { recursive: true, force: true });
    renameSync(review, rec.target);
    this.point.done();
  }
}
