/** DiskFullError and its helpers: the message names the path, EDQUOT says so, other errors pass through. */
import { describe, expect, it } from '@jest/globals';
import { DiskFullError, diskFullAt, isDiskFull } from '../../src/util/disk-full.js';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: something, write`), { code });

describe('disk full', () => {
  it('ENOSPC and EDQUOT become "disk full: <path>"; the quota is named', () => {
    expect((diskFullAt(errno('ENOSPC'), '/a/b') as Error).message).toBe('disk full: /a/b');
    expect((diskFullAt(errno('EDQUOT'), '/a/b') as Error).message).toBe('disk full: /a/b (disk quota exceeded)');
    expect(diskFullAt(errno('EDQUOT'), '/a/b')).toMatchObject({ code: 'disk-full', errnoCode: 'EDQUOT', path: '/a/b' });
  });

  it('a DiskFullError keeps its own path; other errors are returned as they are', () => {
    const first = new DiskFullError('/first');
    expect(diskFullAt(first, '/second')).toBe(first);
    const other = errno('EACCES');
    expect(diskFullAt(other, '/x')).toBe(other);
    expect(isDiskFull(other)).toBe(false);
    expect(isDiskFull(first)).toBe(true);
    expect(isDiskFull(undefined)).toBe(false);
  });
});
