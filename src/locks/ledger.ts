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
 * Layout: `<ledger>/<lock key>/<token>`, one name per granted token, made just after the grant
 * was committed to the registry as a hard link to the key's empty `anchor` file: link(2) fails
 * with EEXIST like an O_EXCL create, but allocates no inode, which on a busy ext4 costs a tenth
 * of a create (old names are removed, so the anchor's link count stays small). So:
 * - the newest token is the highest name (`last`), and a lock state whose token is below it has
 *   been set back: the store lifts it to the ledger's (FileLockStore's floor), so the next grant
 *   is above every token granted before, and a fenced write with an older token is refused;
 * - a token is recorded once: a commit whose token is already recorded was made on a state set
 *   back under its committer (it read the state just before an `rm -rf`), and the store takes
 *   that grant back and tries again. Old names are removed (all but the newest WINDOW or so),
 *   so a token far below the newest counts as recorded.
 *
 * Recording after the commit rather than before: a token recorded ahead of a commit that then
 * loses its compare-and-set to a plain renewal would look like a grant that never happened, and
 * lift the lock past it. The cost: a process killed between its commit and its record leaves its
 * token unrecorded, and were the registry lost just then, that one token could be granted again
 * — to the holder that follows a dead one. A power failure may also lose the ledger's last
 * seconds (nothing is fsynced, like the registry); a clean reboot does not.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { isErrno, numberedNames } from '../primitives/link-publish.js';

/**
 * Names are kept for WINDOW tokens below the newest at least: a commit recorded further behind
 * is taken back (a committer descheduled between its commit and its record for that many grants
 * is rare, and then only a read grant still held after all of them could be hit; it is then
 * lost, safely). Every COLLECT-th token removes the older names, so a key holds WINDOW to
 * WINDOW + COLLECT names, and listing them (`last`) stays cheap.
 */
const WINDOW = 32;
const COLLECT = 8;
const NAME = /^(\d+)$/;
/** The file every token name of a key links to. */
const ANCHOR = 'anchor';

/** The file system calls of the ledger (default: node:fs; tests give one that fails where they say). */
export type LedgerOps = Pick<typeof fs, 'closeSync' | 'existsSync' | 'linkSync' | 'mkdirSync' | 'openSync' | 'unlinkSync'>;

export class TokenLedger {
  constructor(
    readonly dir: string,
    private readonly ops: LedgerOps = fs,
  ) {}

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
      else if (t % COLLECT === 0) this.collect(dir, t);
    }
    // While the name of `from` is there, so are all names above it (they are removed oldest
    // first), and EEXIST has said all. Without it, `from` was removed as old — or its commit has
    // not recorded it yet (or it is 0, which has no name): only a commit far below the newest is
    // taken back.
    if (this.ops.existsSync(join(dir, String(from)))) return taken;
    const newest = this.last(key);
    if (newest > to) for (let t = from + 1; t <= Math.min(to, newest - WINDOW); t++) if (!taken.includes(t)) taken.push(t);
    return taken;
  }

  /** Makes the name of token `t` (a link to the anchor); false when it exists. */
  private claim(dir: string, t: number): boolean {
    const anchor = join(dir, ANCHOR);
    for (let attempt = 0; ; attempt++) {
      try {
        this.ops.linkSync(anchor, join(dir, String(t)));
        return true;
      } catch (e) {
        if (isErrno(e, 'EEXIST')) return false;
        if (!isErrno(e, 'ENOENT') || attempt > 0) throw e;
        // the key's first token (or the anchor was removed): make the directory and the anchor
        this.ops.mkdirSync(dir, { recursive: true, mode: 0o700 });
        try {
          this.ops.closeSync(this.ops.openSync(anchor, 'wx', 0o600));
        } catch (err) {
          if (!isErrno(err, 'EEXIST')) throw err;
        }
      }
    }
  }

  /** Removes the names of tokens a window or more below `t`. */
  private collect(dir: string, t: number): void {
    for (const n of numberedNames(dir, NAME)) {
      if (n > t - WINDOW) break;
      try {
        this.ops.unlinkSync(join(dir, String(n)));
      } catch {
        /* removed by another process */
      }
    }
  }
}
