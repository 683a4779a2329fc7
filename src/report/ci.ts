/**
 * What a run leaves for CI: a JUnit XML report (`--report FILE`: a testcase per stream and per
 * convergence point), a markdown summary appended to GITHUB_STEP_SUMMARY when it is set, and
 * `::error` workflow annotations for failures under GitHub Actions.
 */
import { closeSync, openSync, readSync, fstatSync, appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunOutcome } from '../orchestrator/coordinator.js';
import type { StreamRecord, PointRecord } from '../backend/types.js';

/** How much of a failed stream's stderr goes into its report. */
export const STDERR_TAIL_BYTES = 4096;

const seconds = (s: { startedAt?: string | null; endedAt?: string | null }): number =>
  s.startedAt && s.endedAt ? Math.max(0, (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000) : 0;

/** The JUnit XML of a finished run. */
export function junitXml(outcome: RunOutcome, name: string): string {
  const failed = outcome.streams.filter((s) => s.state === 'failed').length + outcome.points.filter((p) => p.state === 'failed').length;
  const skipped = outcome.streams.filter((s) => s.state === 'skipped' || (s.state === 'cancelled' && s.reason === 'superseded')).length;
  const errors = outcome.streams.filter((s) => s.state === 'cancelled' && s.reason !== 'superseded').length;
  const time = outcome.streams.reduce((t, s) => Math.max(t, seconds(s)), 0);
  const cases = [...outcome.streams.map((s) => streamCase(s, outcome.runDir)), ...outcome.points.map(pointCase)];
  const suite = attrs({ name, tests: cases.length, failures: failed, errors, skipped, time: time.toFixed(3), timestamp: new Date().toISOString().slice(0, 19) });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites ${attrs({ name: `coord run ${outcome.runId}`, tests: cases.length, failures: failed, errors, skipped })}>`,
    `  <testsuite ${suite}>`,
    ...cases.map((c) => '    ' + c),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function streamCase(s: StreamRecord, runDir: string): string {
  const head = `<testcase ${attrs({ classname: 'coord.stream', name: s.id, time: seconds(s).toFixed(3) })}`;
  if (s.state === 'succeeded') return `${head}/>`;
  if (s.state === 'skipped' || (s.state === 'cancelled' && s.reason === 'superseded')) {
    return `${head}><skipped ${attrs({ message: s.reason ?? s.state })}/></testcase>`;
  }
  const tag = s.state === 'cancelled' ? 'error' : 'failure';
  const tail = stderrTail(join(runDir, 'streams', s.id, 'stderr'));
  return `${head}><${tag} ${attrs({ message: streamProblem(s), type: s.reason ?? s.state })}>${text(tail)}</${tag}></testcase>`;
}

function pointCase(p: PointRecord): string {
  const head = `<testcase ${attrs({ classname: 'coord.convergence', name: p.name, time: '0' })}`;
  if (p.state === 'done') return `${head}/>`;
  const detail = p.conflicts.length ? `conflicting paths:\n${p.conflicts.join('\n')}` : (p.message ?? '');
  return `${head}><failure ${attrs({ message: `${p.type} point ${p.state}${p.reason ? ` (${p.reason})` : ''}`, type: p.reason ?? p.state })}>${text(detail)}</failure></testcase>`;
}

/** One line saying why a stream did not succeed. */
export function streamProblem(s: StreamRecord): string {
  const how = s.exitCode !== null ? `exit code ${s.exitCode}` : s.signal ? `signal ${s.signal}` : s.state;
  return `${s.id} ${s.state}: ${s.reason ?? how}${s.reason && s.reason !== 'exit-non-zero' ? ` (${how})` : ''}${s.killed ? ', killed' : ''}`;
}

/** The last STDERR_TAIL_BYTES of a file ('' when there is none). */
export function stderrTail(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, STDERR_TAIL_BYTES);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** XML 1.0 text: escaped, and characters XML cannot carry dropped. */
function text(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]/gu, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attrs(o: Record<string, string | number>): string {
  return Object.entries(o)
    .map(([k, v]) => `${k}="${text(String(v)).replace(/"/g, '&quot;').replace(/\n/g, '&#10;')}"`)
    .join(' ');
}

/** A markdown table of the run, for GITHUB_STEP_SUMMARY. */
export function markdownSummary(outcome: RunOutcome, name: string): string {
  const icon = (state: string) => (state === 'succeeded' || state === 'done' ? '✅' : state === 'skipped' || state === 'cancelled' ? '⏭️' : '❌');
  const lines = [`### coord: ${name} — ${outcome.state}`, '', '| stream | state | time | exit | attempts |', '| --- | --- | --- | --- | --- |'];
  for (const s of outcome.streams) {
    lines.push(`| ${md(s.id)} | ${icon(s.state)} ${s.state}${s.reason && s.state !== 'succeeded' ? ` (${s.reason})` : ''} | ${seconds(s).toFixed(1)}s | ${s.exitCode ?? s.signal ?? '-'} | ${s.attempt} |`);
  }
  if (outcome.points.length > 0) {
    lines.push('', '| convergence point | state | merged | conflicts |', '| --- | --- | --- | --- |');
    for (const p of outcome.points) lines.push(`| ${md(p.name)} | ${icon(p.state)} ${p.state} | ${p.merged.length}/${p.streams.length} | ${p.conflicts.map(md).join(', ') || '-'} |`);
  }
  return lines.join('\n') + '\n\n';
}

const md = (s: string): string => s.replace(/\|/g, '\\|');

/** `::error` annotations (GitHub Actions workflow commands) for what failed. */
export function githubAnnotations(outcome: RunOutcome, planFile: string): string {
  const esc = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const out: string[] = [];
  for (const s of outcome.streams.filter((x) => x.state === 'failed')) out.push(`::error file=${esc(planFile)},title=${esc(`coord: stream ${s.id}`)}::${esc(streamProblem(s))}`);
  for (const p of outcome.points.filter((x) => x.state === 'failed')) {
    out.push(`::error file=${esc(planFile)},title=${esc(`coord: convergence point ${p.name}`)}::${esc(`${p.reason ?? 'failed'}${p.conflicts.length ? `: ${p.conflicts.join(', ')}` : p.message ? `: ${p.message}` : ''}`)}`);
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** Writes the JUnit report and, in GitHub Actions, the step summary and annotations. */
export function writeCiOutputs(outcome: RunOutcome, opts: { report?: string; name: string; planFile: string; env: NodeJS.ProcessEnv; stdout: NodeJS.WritableStream }): void {
  if (opts.report) writeFileSync(opts.report, junitXml(outcome, opts.name));
  if (opts.env.GITHUB_STEP_SUMMARY) appendFileSync(opts.env.GITHUB_STEP_SUMMARY, markdownSummary(outcome, opts.name));
  if (opts.env.GITHUB_ACTIONS === 'true') opts.stdout.write(githubAnnotations(outcome, opts.planFile));
}
