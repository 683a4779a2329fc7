/** One line of text per event, shared by the plain and TTY reporters and `coord events`. */
import type { CoordEvent } from '../events/types.js';
import { formatDuration } from '../util/duration.js';
import { unreachable } from '../core/unreachable.js';
import { describeHolder, formatUnits } from '../orchestrator/resources.js';

const units = (u: Record<string, number>): string => formatUnits(u) || 'nothing';
const who = (e: { owner: string; pid?: number; kind: string }): string => describeHolder(e);

/**
 * A plan stream's own units taken and given back: its start and exit lines already say as
 * much, so the terminal reporters leave these out (events.jsonl and --json keep them).
 */
export function planStreamUnits(e: CoordEvent): boolean {
  return (e.type === 'resource-granted' || e.type === 'resource-released') && e.kind === 'stream';
}

/** How a check ended, in words: `passed`, `failed (exit 1)`, `timed out`, `cancelled`. */
export function checkOutcome(e: { outcome: string; exitCode: number | null; signal: string | null }): string {
  if (e.outcome === 'failed') return `failed (${e.signal ? `signal ${e.signal}` : `exit ${e.exitCode}`})`;
  return e.outcome === 'timed-out' ? 'timed out' : e.outcome;
}

export function describeEvent(e: CoordEvent): string {
  switch (e.type) {
    case 'run-started':
      return `run ${e.run} started: ${e.name} (concurrency ${e.concurrency})`;
    case 'run-resumed':
      return (
        `run ${e.run} resumed: kept ${e.kept.length ? e.kept.join(', ') : 'no stream'}${e.adopted.length ? `; adopted ${e.adopted.join(', ')}` : ''}${e.stopped.length ? `; stopped ${e.stopped.join(', ')}` : ''}` +
        (e.rerun?.length ? `; running again: ${e.rerun.map((r) => `${r.stream} (${r.reason})`).join(', ')}` : '') +
        (e.remerged?.length ? `; merging again: ${e.remerged.map((r) => `${r.point} (${r.reason})`).join(', ')}` : '') +
        (e.resolved?.length ? `; publishing the resolved conflicts of ${e.resolved.join(', ')}` : '')
      );
    case 'run-ended':
      return `run ${e.run} ${e.state} after ${formatDuration(e.durationMs)}`;
    case 'stream-registered':
      return `${e.stream} registered (workspace ${e.workspace})`;
    case 'stream-started':
      return `${e.stream} started, ${e.worker ? `on worker ${e.worker}` : `pid ${e.pid}`}${e.attempt > 1 ? `, attempt ${e.attempt}` : ''}`;
    case 'stream-exited':
      return `${e.stream} exited ${e.signal ? `on ${e.signal}` : `with code ${e.exitCode}`} after ${formatDuration(e.durationMs)}`;
    case 'stream-signalled':
      return `${e.stream}: ${e.signal} sent to its process group (${e.reason})`;
    case 'stream-retrying':
      return `${e.stream}: attempt ${e.attempt} failed (${e.reason}), retrying in ${formatDuration(e.delayMs)}`;
    case 'stream-skipped':
      return `${e.stream} skipped: ${e.because}`;
    case 'stream-ended':
      return `${e.stream} ${e.state}${e.reason ? ` (${e.reason})` : ''}`;
    case 'stream-feedback':
      return `${e.stream} runs again as attempt ${e.attempt}: its changes ${e.because === 'verify' ? 'break the check of' : 'conflict at'} ${e.point} (what broke: ${e.file})`;
    case 'stream-stalled':
      return `${e.stream} stalled: no heartbeat for ${formatDuration(e.silentMs)}`;
    case 'stream-beat':
      return `${e.stream} beat${e.progress !== null ? ` ${e.progress}%` : ''}${e.message ? ` ${e.message}` : ''}`;
    case 'stream-output':
      return `[${e.stream}] ${e.line}`;
    case 'point-waiting':
      return `${e.point} (${e.pointType}) waiting for its streams`;
    case 'point-merging':
      return `${e.point} merging ${e.streams.join(', ')}`;
    case 'point-merged':
      return `${e.point} merged ${e.stream}`;
    case 'point-conflict':
      return `${e.point} conflict: ${e.conflicts.map((c) => `${c.path} (${c.streams.join(', ')})`).join('; ')}`;
    case 'point-checkpoint':
      return `${e.point} checkpoint ${e.checkpoint}: ${e.streams.length > 0 ? e.streams.join(', ') : 'nothing new'}${e.unchanged.length > 0 ? ` (unchanged: ${e.unchanged.join(', ')})` : ''}`;
    case 'point-verifying':
      return `${e.point} check ${e.check}${e.round > 0 ? ` (search round ${e.round})` : ''}: ${e.streams.length > 0 ? e.streams.join(', ') : 'the base alone'}`;
    case 'point-verified':
      return `${e.point} check ${e.check} ${checkOutcome(e)}${e.tries > 1 ? ` after ${e.tries} tries` : ''} in ${formatDuration(e.durationMs)}${e.outcome === 'passed' || e.outcome === 'cancelled' ? '' : ` (output: coord logs ${e.point}:verify)`}`;
    case 'point-resolving':
      return `${e.point} resolving the conflicts in ${e.paths.join(', ')} (output: coord logs ${e.point}:resolve)`;
    case 'point-resolved':
      return e.outcome === 'resolved'
        ? `${e.point} resolved ${e.paths.join(', ')} in ${formatDuration(e.durationMs)}: merging again`
        : `${e.point} resolver failed${e.unresolved.length > 0 ? `: markers left in ${e.unresolved.join(', ')}` : ` (exit ${e.exitCode})`} (output: coord logs ${e.point}:resolve)`;
    case 'point-excluded':
      return `${e.point}: ${e.excluded.join(', ')} left out: ${e.excluded.length > 1 ? 'they break' : 'it breaks'} the check (found in ${e.checks} check${e.checks === 1 ? '' : 's'}, ${e.rounds} round${e.rounds === 1 ? '' : 's'})`;
    case 'point-done':
      return `${e.point} done: ${e.target}`;
    case 'point-failed':
      return `${e.point} failed (${e.reason}): ${e.message}`;
    case 'warning':
      return `warning${e.stream ? ` [${e.stream}]` : ''}${e.point ? ` [${e.point}]` : ''}: ${e.message}`;
    case 'resource-waiting':
      return `${who(e)} waits for ${units(e.units)}${e.priority ? ` (priority ${e.priority})` : ''}${e.holders.length ? `, held by ${e.holders.join(', ')}` : ''}`;
    case 'resource-granted':
      return `${who(e)} got ${units(e.units)}${e.waitedMs >= 1 ? ` after ${formatDuration(e.waitedMs)}` : ''}`;
    case 'resource-released':
      return `${who(e)} released ${units(e.units)} after ${formatDuration(e.heldMs)} (${e.reason})`;
    case 'resource-timeout':
      return `${who(e)} gave up waiting for ${units(e.units)} after ${formatDuration(e.waitedMs)}${e.holders.length ? `; held by ${e.holders.join(', ')}` : ''}`;
    case 'resource-withdrawn':
      return `${who(e)} withdrew its request for ${units(e.units)} (${e.reason})`;
    case 'proposal-opened':
      return `${e.kind === 'approval' ? 'approval of ' : e.kind === 'gather' ? 'vote of replicas ' : 'proposal '}${e.proposal} opened${e.by ? ` by ${e.by}` : ''}: ${e.needed} of ${e.voters.length} yes needed (${e.voters.join(', ')})${e.timeoutMs !== null ? `, timeout ${formatDuration(e.timeoutMs)}` : ''}`;
    case 'vote-cast':
      return `${e.voter} voted ${e.vote} on ${e.proposal}${e.reason ? ` (${e.reason})` : ''}: ${e.yes} yes, ${e.no} no, ${e.needed} needed${e.late ? ' (after the decision: not counted)' : ''}`;
    case 'proposal-decided':
      return `${e.proposal} ${e.decision} (${e.reason}): ${e.yes} yes, ${e.no} no, ${e.needed} needed`;
    case 'state-version':
      return `state v${e.version}: ${e.op}${e.keys.length ? ` ${e.keys.join(', ')}` : ''}${e.stream ? ` by ${e.stream}` : ''}`;
    case 'state-restored':
      return `state restored to v${e.version} from the snapshot of v${e.from}`;
    case 'queue-sent':
      return `${e.sender ?? 'a process'} sent message ${e.id} to ${e.topic}`;
    case 'queue-received':
      return `${e.member} received message ${e.id} of ${e.topic}${e.consumer !== e.member ? ` (group ${e.consumer})` : ''}${e.delivery > 1 ? `, delivery ${e.delivery}` : ''}`;
    case 'queue-acked':
      return `${e.member} acknowledged message ${e.id} of ${e.topic}`;
    case 'queue-redelivered':
      return `message ${e.id} of ${e.topic} handed again to ${e.member} (not acknowledged by ${e.from} in time; delivery ${e.delivery})`;
    case 'lock-waiting':
      return `${e.owner} waits for a ${e.mode} lock on ${e.path}${e.holders.length ? ` held by ${e.holders.join(', ')}` : ''}`;
    case 'lock-granted':
      return `${e.owner} got a ${e.mode} lock on ${e.path} (token ${e.token}${e.contended ? `, after ${formatDuration(e.waitMs)}` : ''})`;
    case 'lock-released':
      return `${e.owner} released ${e.path} (token ${e.token}, held ${formatDuration(e.heldMs)})`;
    case 'lock-timeout':
      return `${e.owner} gave up on ${e.path} after ${formatDuration(e.waitMs)}`;
    case 'lock-lost':
      return `${e.owner} lost its lock on ${e.path} (token ${e.token}): ${e.reason}`;
    case 'lock-reclaimed':
      return `${e.owner} reclaimed ${e.path} from ${e.from} (pid ${e.fromPid}, ${e.why === 'lease-expired' ? 'lease expired' : 'process gone'})`;
    case 'lock-deadlock':
      return `${e.owner}: deadlock on ${e.path}: ${e.cycle}`;
    default:
      return unreachable(e);
  }
}
