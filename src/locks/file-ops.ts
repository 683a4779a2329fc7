/** The file system calls of files.ts and journal.ts, passed in so that tests can make them fail. */
import type * as fs from 'node:fs';

/** The file system calls of files.ts and journal.ts (default: node:fs; tests give one that fails where they say). */
export type FileOps = Pick<
  typeof fs,
  | 'closeSync'
  | 'fchmodSync'
  | 'fchownSync'
  | 'fdatasyncSync'
  | 'fstatSync'
  | 'fsyncSync'
  | 'ftruncateSync'
  | 'openSync'
  | 'readdirSync'
  | 'readFileSync'
  | 'readSync'
  | 'renameSync'
  | 'statSync'
  | 'unlinkSync'
  | 'writeFileSync'
  | 'writeSync'
>;
