/**
 * Colours for reporters. chalk honours FORCE_COLOR but not NO_COLOR (https://no-color.org):
 * NO_COLOR set and non-empty turns colour off unless FORCE_COLOR asks for it. chalk is
 * loaded only when colour is on (it costs a short command a noticeable part of its start).
 */
import type { ChalkInstance } from 'chalk';

/** The styles reporters use: chalk's, or the identity when colour is off. */
export type Colors = Pick<ChalkInstance, 'level' | 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan'>;

/** The colour level for a stream: 0 (none) to 3. */
export function colorLevel(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): 0 | 1 | 2 | 3 {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return force === '3' ? 3 : force === '2' ? 2 : 1;
  if (env.NO_COLOR) return 0;
  if (force === '0' || force === 'false') return 0;
  return stream.isTTY ? 1 : 0;
}

const same = ((s: unknown) => String(s)) as unknown as ChalkInstance;

/** No colour at all. */
export const noColors: Colors = { level: 0, bold: same, dim: same, red: same, green: same, yellow: same, cyan: same };

/** chalk at the stream's colour level, or no colours without loading chalk. */
export async function colorsFor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): Promise<Colors> {
  const level = colorLevel(stream, env);
  if (level === 0) return noColors;
  const { Chalk } = await import('chalk');
  return new Chalk({ level });
}
