/**
 * What a run leaves for CI: a JUnit XML report (`--report FILE`: a testcase per stream and per
 * convergence point), a markdown summary appended to GITHUB_STEP_SUMMARY when it is set, and
 * the `::error` workflow annotations of failures (formatted by src/report/github.ts).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunOutcome } from '../orchestrator/coordinator.js';
import type { CheckRecord, StreamRecord, PointRecord } from '../backend/types.js';
import { annotationFile, githubAnnotations, type PlanPlaces } from './github.js';
import { excludedLine, streamProblem } from './summary.js';
import type { ReporterName } from './types.js';
import { fileTail, type OutputTail } from '../util/tail.js';

export type { OutputTail } from '../util/tail.js';

export { streamProblem } from './summary.js';

/**
 * How much of each of a failed stream's stdout and stderr goes into its report: the end, where
 * a failure is told, bounded so a chatty stream cannot swell the report. Both, because many
 * test runners (node's own included) report failures on stdout.
 */
export const OUTPUT_TAIL_BYTES = 4096;

/** The last `max` bytes of a log file, as {@link fileTail} reads them. */
export function outputTail(file: string, max = OUTPUT_TAIL_BYTES): OutputTail {
  return fileTail(file, max);
}

const seconds = (s: { startedAt?: string | null; endedAt?: string | null }): number =>
  s.startedAt && s.endedAt ? Math.max(0, (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000) : 0;

/** The JUnit XML of a finished run. */
export function junitXml(outcome: RunOutcome, name: string): string {
  const checks = outcome.points.flatMap((p) => (p.checks ?? []).map((c) => ({ point: p.name, c })));
  const failedChecks = checks.filter(({ c }) => c.outcome === 'failed' || c.outcome === 'timed-out').length;
  const failed = outcome.streams.filter((s) => s.state === 'failed').length + outcome.points.filter((p) => p.state === 'failed').length + failedChecks;
  const skipped =
    outcome.streams.filter((s) => s.state === 'skipped' || (s.state === 'cancelled' && s.reason === 'superseded')).length +
    checks.filter(({ c }) => c.outcome === 'cancelled' || c.outcome === 'running').length;
  const errors = outcome.streams.filter((s) => s.state === 'cancelled' && s.reason !== 'superseded').length;
  const time = outcome.streams.reduce((t, s) => Math.max(t, seconds(s)), 0);
  const cases = [
    ...outcome.streams.map((s) => streamCase(s, outcome.runDir)),
    ...outcome.points.map(pointCase),
    ...checks.map(({ point, c }) => checkCase(point, c)),
  ];
  const suite = attrs({
    name,
    tests: cases.length,
    failures: failed,
    errors,
    skipped,
    time: time.toFixed(3),
    timestamp: new Date().toISOString().slice(0, 19),
  });
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
  const logs = join(runDir, 'streams', s.id);
  const out = outputTail(join(logs, 'stdout'));
  const err = outputTail(join(logs, 'stderr'));
  // The failure body is what most CI pages show; <system-out>/<system-err> are where JUnit
  // readers that have a place for a case's output look for it (after the failure, as the schema orders them).
  const body = [tailSection('stdout', out), tailSection('stderr', err)].join('\n');
  const sys = (out.text ? `<system-out>${text(out.text)}</system-out>` : '') + (err.text ? `<system-err>${text(err.text)}</system-err>` : '');
  return `${head}><${tag} ${attrs({ message: streamProblem(s), type: s.reason ?? s.state })}>${text(body)}</${tag}>${sys}</testcase>`;
}

/** A labelled tail for a failure body: the label says whether it is all of the output or its end. */
function tailSection(fd: 'stdout' | 'stderr' | 'output', t: OutputTail): string {
  if (!t.text) return `--- ${fd} (empty) ---\n`;
  const what = t.cut ? `last ${t.bytes} of ${t.size} bytes` : `${t.bytes} bytes`;
  return `--- ${fd} (${what}) ---\n${t.text}${t.text.endsWith('\n') ? '' : '\n'}`;
}

function pointCase(p: PointRecord): string {
  const head = `<testcase ${attrs({ classname: 'coord.convergence', name: p.name, time: '0' })}`;
  if (p.state === 'done') return `${head}/>`;
  const byPath = new Map((p.conflictStreams ?? []).map((c) => [c.path, c.streams]));
  const detail = p.conflicts.length
    ? `conflicting paths:\n${p.conflicts.map((c) => `${c}${byPath.get(c)?.length ? ` (changed by ${byPath.get(c)?.join(', ')})` : ''}`).join('\n')}${p.conflictDir ? `\nresolve them in ${p.conflictDir}, then: coord continue` : ''}`
    : (p.message ?? '');
  return `${head}><failure ${attrs({ message: `${p.type} point ${p.state}${p.reason ? ` (${p.reason})` : ''}`, type: p.reason ?? p.state })}>${text(detail)}</failure></testcase>`;
}

/** A testcase per check of a point's merge (`verify:`), its output's end in a failure's body. */
function checkCase(point: string, c: CheckRecord): string {
  const what = c.streams.length > 0 ? c.streams.join(', ') : 'the base alone';
  const head = `<testcase ${attrs({ classname: `coord.verify.${point}`, name: `check ${c.check}${c.round > 0 ? ` (round ${c.round})` : ''}: ${what}`, time: ((c.durationMs ?? 0) / 1000).toFixed(3) })}`;
  if (c.outcome === 'passed') return `${head}/>`;
  if (c.outcome === 'cancelled' || c.outcome === 'running')
    return `${head}><skipped ${attrs({ message: c.outcome === 'running' ? 'not finished' : 'cancelled: the search no longer needed it' })}/></testcase>`;
  const log = outputTail(c.log);
  const message = c.outcome === 'timed-out' ? 'the check timed out' : `the check failed (${c.signal ? `signal ${c.signal}` : `exit ${c.exitCode}`})`;
  return `${head}><failure ${attrs({ message, type: 'verify-failed' })}>${text(tailSection('output', log))}</failure><system-out>${text(log.text)}</system-out></testcase>`;
}

/** XML 1.0 text: escaped, and characters XML cannot carry dropped. */
function text(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
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
    lines.push(
      `| ${md(s.id)} | ${icon(s.state)} ${s.state}${s.reason && s.state !== 'succeeded' ? ` (${s.reason})` : ''} | ${seconds(s).toFixed(1)}s | ${s.exitCode ?? s.signal ?? '-'} | ${s.attempt} |`,
    );
  }
  if (outcome.points.length > 0) {
    lines.push('', '| convergence point | state | merged | conflicts |', '| --- | --- | --- | --- |');
    for (const p of outcome.points)
      lines.push(`| ${md(p.name)} | ${icon(p.state)} ${p.state} | ${p.merged.length}/${p.streams.length} | ${p.conflicts.map(md).join(', ') || '-'} |`);
    const left = outcome.points.filter((p) => p.excluded?.length);
    if (left.length > 0) lines.push('', ...left.map((p) => `- ${md(excludedLine(p))}`));
  }
  return lines.join('\n') + '\n\n';
}

const md = (s: string): string => s.replace(/\|/g, '\\|');

/** What {@link writeCiOutputs} needs besides the outcome. */
export interface CiOutputOptions {
  /** `--report FILE`: where the JUnit XML goes. */
  report?: string;
  name: string;
  /** The plan: its file, and where its streams' and points' entries stand. */
  plan: PlanPlaces & { file: string };
  /** `--reporter`: `github` annotates outside GitHub Actions too. */
  reporter?: ReporterName;
  env: NodeJS.ProcessEnv;
  /** What the plan's path is relative to outside GITHUB_WORKSPACE (default: the process's directory). */
  cwd?: string;
  /** Where annotations go: stdout, or stderr under --json (stdout is the events'). */
  stdout: NodeJS.WritableStream;
}

/**
 * Writes the JUnit report, the step summary when GITHUB_STEP_SUMMARY is set, and the `::error`
 * annotations of what failed (src/report/github.ts) under GitHub Actions or with `--reporter
 * github`. This is the one place annotations are written, whichever reporter ran, so they are
 * never written twice.
 */
export function writeCiOutputs(outcome: RunOutcome, opts: CiOutputOptions): void {
  if (opts.report) writeFileSync(opts.report, junitXml(outcome, opts.name));
  if (opts.env.GITHUB_STEP_SUMMARY) appendFileSync(opts.env.GITHUB_STEP_SUMMARY, markdownSummary(outcome, opts.name));
  if (opts.env.GITHUB_ACTIONS === 'true' || opts.reporter === 'github') {
    opts.stdout.write(githubAnnotations(outcome, opts.plan, annotationFile(opts.plan.file, opts.env, opts.cwd ?? process.cwd())));
  }
}
