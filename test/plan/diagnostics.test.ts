import { describe, expect, it } from '@jest/globals';
import { formatDiagnostics, sortDiagnostics, type Diagnostic } from '../../src/plan/diagnostics.js';
import { parsePlan } from '../../src/plan/load.js';
import { yaml } from './helpers.js';

describe('formatDiagnostics', () => {
  it('prints FILE:LINE:COL: message, the source line and a caret, sorted by position', () => {
    const diags: Diagnostic[] = [
      { file: 'plan.yaml', line: 12, col: 11, message: 'streams[1].id: duplicate id "build" (first defined at 8:11)', source: '    - id: build' },
      { file: 'plan.yaml', line: 8, col: 11, message: 'first', source: '    - id: build' },
      { file: 'plan.yaml', line: 8, col: 5, message: 'earlier column' },
    ];
    expect(formatDiagnostics(diags)).toBe(
      [
        'plan.yaml:8:5: earlier column',
        'plan.yaml:8:11: first',
        '    8 |     - id: build',
        '      |           ^',
        'plan.yaml:12:11: streams[1].id: duplicate id "build" (first defined at 8:11)',
        '   12 |     - id: build',
        '      |           ^',
      ].join('\n'),
    );
  });

  it('keeps tabs in the caret line and handles a caret past the end', () => {
    const out = formatDiagnostics([{ file: 'f', line: 1, col: 3, message: 'm', source: '\tx' }]);
    expect(out.split('\n')).toEqual(['f:1:3: m', '   1 | \tx', '     | \t ^']);
    const past = formatDiagnostics([{ file: 'f', line: 1, col: 5, message: 'm', source: 'ab' }]);
    expect(past.split('\n')[2]).toBe('     |     ^');
  });

  it('renders nothing for no diagnostics and does not reorder its input', () => {
    expect(formatDiagnostics([])).toBe('');
    const input: Diagnostic[] = [
      { file: 'a', line: 2, col: 1, message: 'x' },
      { file: 'a', line: 1, col: 1, message: 'y' },
    ];
    expect(sortDiagnostics(input).map((d) => d.message)).toEqual(['y', 'x']);
    expect(input.map((d) => d.message)).toEqual(['x', 'y']);
  });

  it('formats what the loader reports', () => {
    const r = parsePlan(yaml('streams:', '  - id: build', '    command: make', '  - id: build', '    command: make'), 'plan.yaml');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(formatDiagnostics(r.error)).toBe(
        ['plan.yaml:4:9: streams[1].id: duplicate id "build" (first defined at 2:9)', '   4 |   - id: build', '     |         ^'].join('\n'),
      );
    }
  });
});
