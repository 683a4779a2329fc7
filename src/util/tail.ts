/** The end of a log file, read without reading the rest, decoded without a character cut in two. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The end of a log file: its text, how many bytes of the file that is, the file's size, and whether its start was cut off. */
export interface OutputTail {
  text: string;
  bytes: number;
  size: number;
  cut: boolean;
}

/**
 * The last `max` bytes of a file (empty when there is none), decoded as UTF-8 without a
 * character cut in two: a cut leaves continuation bytes at the start, which are dropped
 * rather than shown as U+FFFD, and a last character the stream did not finish is left out.
 */
export function fileTail(file: string, max: number): OutputTail {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { text: '', bytes: 0, size: 0, cut: false };
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, max);
    const buf = Buffer.alloc(len);
    const got = readSync(fd, buf, 0, len, size - len);
    const cut = got < size;
    const isCont = (i: number): boolean => ((buf[i] ?? 0) & 0xc0) === 0x80;
    let start = 0;
    // continuation bytes are 10xxxxxx, and a character has at most three
    if (cut) while (start < Math.min(got, 3) && isCont(start)) start++;
    let end = got;
    // an unfinished last character (a stream killed mid-write): its lead byte and fewer continuation bytes than it announces
    let lead = got - 1;
    while (lead > start && got - lead < 4 && isCont(lead)) lead--;
    const b = buf[lead] ?? 0;
    const want = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    if (lead >= start && want > 1 && got - lead < want) end = lead;
    const tail = buf.subarray(start, end);
    return { text: tail.toString('utf8'), bytes: tail.length, size, cut };
  } finally {
    closeSync(fd);
  }
}
