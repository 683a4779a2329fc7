/**
 * Lines out of a byte stream: the one line splitter of stream output, control sockets and
 * pipes between coord's own processes.
 *
 * A chunk of a pipe or a socket ends wherever a write (or the kernel's buffer) did, inside a
 * UTF-8 character as often as not: decoding each chunk alone turns the two halves of `é` into
 * `��`. One StringDecoder per stream keeps the bytes of a character cut short until the rest
 * arrives (https://nodejs.org/api/string_decoder.html). Only the newly decoded text is searched
 * for `\n`, so a long line arriving in many chunks costs no more than its length.
 */
import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';

export interface LineSplitterOptions {
  /** Drop a `\r` before each `\n` (CRLF output); the last line, unterminated, is left as it came. */
  stripCR?: boolean;
}

/** Splits the chunks of one byte stream into lines (without their `\n`), in order. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  constructor(private readonly opts: LineSplitterOptions = {}) {}

  /** The lines `chunk` completes; what follows the last `\n` waits for the next chunk. */
  push(chunk: Uint8Array): string[] {
    const text = this.decoder.write(chunk);
    if (!text.includes('\n')) {
      this.partial += text;
      return [];
    }
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    return this.opts.stripCR ? lines.map(stripCR) : lines;
  }

  /**
   * The stream ended: its last line when it did not end with `\n`, else null. Bytes of an
   * unfinished character become U+FFFD, as a decoder's end does.
   */
  end(): string | null {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    return rest === '' ? null : rest;
  }

  /** How many characters wait for their `\n` (to bound a peer that never sends one). */
  get pending(): number {
    return this.partial.length;
  }
}

const stripCR = (line: string): string => (line.endsWith('\r') ? line.slice(0, -1) : line);

/** Longest line a socket of coord's may send (control requests, replies and tunnel messages are small JSON objects). */
const MAX_LINE = 1024 * 1024;

/** Calls `onLine` with each line of text the socket receives; a line past MAX_LINE ends the connection. */
export function onLines(socket: Socket, onLine: (line: string) => void): void {
  const lines = new LineSplitter();
  socket.on('data', (chunk: Buffer) => {
    for (const line of lines.push(chunk)) onLine(line);
    if (lines.pending > MAX_LINE) socket.destroy();
  });
}
