/**
 * The token ledger: the fencing tokens each lock of the file registry has granted, kept outside
 * the registry so that whatever happens to the registry, a lock's tokens never go back.
 *
 * Why outside: the registry is a directory of small files in /tmp or $XDG_RUNTIME_DIR. An
 * `rm -rf`, a reboot or a logout, a tmp cleaner, a copy put back, or an `rm -rf` caught half-way
 * (which exposes older versions for a moment) removes or sets back a lock's state — and a state
 * read afresh starts at token 0, so the next holder would get token 1 after token 2, and a
 * paused holder's fenced write would pass again. The ledger is where the registry's loss cannot
 * reach: beside an explicit registry (`<registry>.tokens`), or for the default registry in the
 * user's state directory, on disk (see lockTokenDir).
 *
 * Layout: `<ledger>/<lock key>/<token>`, one empty file per granted token, created with O_EXCL
 * just after the grant was committed to the registry. So:
 * - the newest token is the highest name (`last`), and a lock state whose token is below it has
 *   been set back: the store lifts it to the ledger's (FileLockStore's floor), so the next grant
 *   is above every token granted before, and a fenced write with an older token is refused;
 * - a token is recorded once: a commit whose token is already recorded was made on a state set
 *   back under its committer (it read the state just before an `rm -rf`), and the store takes
 *   that grant back and tries again. Old names are removed (all but the newest WINDOW or more),
 *   so a token far below the newest counts as recorded.
 *
 * Recording after the commit rather than before: a token recorded ahead of a commit that then
 * loses its compare-and-set to a plain renewal would look like a grant that never happened, and
 * lift the lock past it. The cost: a process killed between its commit and its record leaves its
 * token unrecorded, and were the registry lost just then, that one token could be granted again
 * — to the holder that follows a dead one. A power failure may also lose the ledger's last
 * seconds (nothing is fsynced, like the registry); a clean reboot does not.
 */
import { closeSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isErrno, numberedNames } from '../primitives/link-publish.js';

/**
 * Names are kept for this many tokens at least; every WINDOW-th token removes those older than
 * two windows. A commit recorded more than WINDOW tokens behind the newest is taken back: a
 * committer descheduled between its commit and its record for that many grants is rare, and
 * then only a read grant still held after all of them could be hit (it is then lost, safely).
 */
const WINDOW = 32;
const NAME = /^(\d+)$/;

export class TokenLedger {
  constructor(readonly dir: string) {}

  private keyDir(key: string): string {
    return join(this.dir, key);
  }

  /** The newest token recorded for the lock `key` (0 when none). */
  last(key: string): number {
    return numberedNames(this.keyDir(key), NAME).at(-1) ?? 0;
  }

  /**
   * Records tokens `from + 1` … `to`, just granted by a commit. Returns those that must be taken
   * back: recorded already, or so far below the newest token that their names may have been
   * removed as old — grants made on a state set back under the committer.
   */
  record(key: string, from: number, to: number): number[] {
    const dir = this.keyDir(key);
    const taken: number[] = [];
    for (let t = from + 1; t <= to; t++) {
      if (!this.claim(dir, t)) taken.push(t);
      else if (t % WINDOW === 0) this.collect(dir, t);
    }
    // Not "is `from` recorded?": the commit that granted `from` may not have recorded it yet.
    // A legitimate commit is at most a few grants behind the newest when it records.
    const newest = this.last(key);
    if (newest > to) for (let t = from + 1; t <= Math.min(to, newest - WINDOW); t++) if (!taken.includes(t)) taken.push(t);
    return taken;
  }

  /** Creates the name of token `t`; false when it exists. */
  private claim(dir: string, t: number): boolean {
    const file = join(dir, String(t));
    for (let attempt = 0; ; attempt++) {
      try {
        closeSync(openSync(file, 'wx', 0o600));
        return true;
      } catch (e) {
        if (isErrno(e, 'EEXIST')) return false;
        if (!isErrno(e, 'ENOENT') || attempt > 0) throw e;
        mkdirSync(dir, { recursive: true, mode: 0o700 });
      }
    }
  }

  /** Removes the names of tokens older than two windows below `t`. */
  private collect(dir: string, t: number): void {
    for (const n of numberedNames(dir, NAME)) {
      if (n > t - 2 * WINDOW) break;
      try {
        unlinkSync(join(dir, String(n)));
      } catch {
        /* removed by another process */
      }
    }
  }
}
