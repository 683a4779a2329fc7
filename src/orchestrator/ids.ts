/** Run ids: sortable by time, unique, and safe as one path component. */
import { randomBytes } from 'node:crypto';

export function newRunId(now = new Date()): string {
  const t = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '')
    .replace('T', '-');
  return `${t}-${randomBytes(3).toString('hex')}`;
}
