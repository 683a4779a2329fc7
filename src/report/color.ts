/**
 * Colours for reporters. chalk honours FORCE_COLOR but not NO_COLOR (https://no-color.org):
 * NO_COLOR set and non-empty turns colour off unless FORCE_COLOR asks for it.
 */
import { Chalk, type ChalkInstance } from 'chalk';

export function makeChalk(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): ChalkInstance {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') {
    return new Chalk({ level: force === '3' ? 3 : force === '2' ? 2 : 1 });
  }
  if (env.NO_COLOR) return new Chalk({ level: 0 });
  if (force === '0' || force === 'false') return new Chalk({ level: 0 });
  return new Chalk({ level: stream.isTTY ? 1 : 0 });
}
