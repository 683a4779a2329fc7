/** Checks a stress log (lines "E pid n mode token" / "X pid n mode") for overlapping critical sections. */
export interface LogCheck {
  writes: number;
  reads: number;
  /** Most readers inside at once. */
  maxReaders: number;
  violations: string[];
  tokens: number[];
}

export function checkLog(text: string): LogCheck {
  const inside = new Map<string, 'read' | 'write'>();
  const out: LogCheck = { writes: 0, reads: 0, maxReaders: 0, violations: [], tokens: [] };
  text
    .split('\n')
    .filter(Boolean)
    .forEach((line, i) => {
      const [kind, pid, n, mode, token] = line.split(' ');
      const key = `${pid}/${n}`;
      if (kind === 'E') {
        const writers = [...inside.values()].filter((m) => m === 'write').length;
        if (mode === 'write' && inside.size > 0) out.violations.push(`line ${i + 1}: writer ${key} entered with ${inside.size} inside`);
        if (mode === 'read' && writers > 0) out.violations.push(`line ${i + 1}: reader ${key} entered with a writer inside`);
        inside.set(key, mode as 'read' | 'write');
        if (mode === 'write') out.writes++;
        else out.reads++;
        out.maxReaders = Math.max(out.maxReaders, [...inside.values()].filter((m) => m === 'read').length);
        out.tokens.push(Number(token));
      } else if (kind === 'X') {
        if (!inside.delete(key)) out.violations.push(`line ${i + 1}: ${key} left without entering`);
      }
    });
  return out;
}
