/**
 * The names of the temp files `coord write` and `coord append` make next to their target:
 * `.NAME.<pid>-<start>-<host>-<random>.coord-tmp`. Such a file is a write in flight (or the
 * leftover of a killed writer, swept by the next write of the same target), never anyone's
 * output: walks of a workspace leave them out, so a merge or a checkpoint never copies half
 * a write, nor counts its appearance as a change.
 */

/** Suffix of the temp files `coord write` makes next to its target. */
export const TEMP_SUFFIX = '.coord-tmp';

/** What follows `.NAME.` in a temp file's name: pid, its start time (empty when unknown), host, random. */
export const TEMP_TAIL = /^(\d+)-(\d*)-([0-9a-f]{6})-[0-9a-f]{8}\.coord-tmp$/;

/** `.NAME.` then TEMP_TAIL: the whole name. */
const TEMP_NAME = new RegExp(`^\\..+\\.${TEMP_TAIL.source.slice(1)}`);

/** Is `name` (one path component) the temp file of a `coord write`? */
export function isWriteTemp(name: string): boolean {
  return name.endsWith(TEMP_SUFFIX) && TEMP_NAME.test(name);
}
