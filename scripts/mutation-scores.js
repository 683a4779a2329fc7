#!/usr/bin/env node
// The mutation score per module from the JSON reports of `npm run mutate` (reports/mutation/*.json):
// killed + timed out over every valid mutant (survived and not covered included), as Stryker counts it.
// With --surviving FILE: the mutants of FILE that lived, by line.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = 'reports/mutation';
if (!existsSync(dir)) {
  console.error(`no ${dir}: run npm run mutate first`);
  process.exit(1);
}
const files = new Map();
const reports = readdirSync(dir).filter((f) => f.endsWith('.json'));
for (const f of reports) for (const [path, data] of Object.entries(JSON.parse(readFileSync(join(dir, f), 'utf8')).files)) files.set(path, data.mutants);

const surviving = process.argv.indexOf('--surviving');
if (surviving > 0) {
  const want = process.argv[surviving + 1];
  for (const [path, mutants] of files) {
    if (!path.endsWith(want)) continue;
    for (const m of mutants.filter((x) => x.status === 'Survived' || x.status === 'NoCoverage').sort((a, b) => a.location.start.line - b.location.start.line)) {
      console.log(`${path}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName} ${JSON.stringify(m.replacement ?? '')}`);
    }
  }
  process.exit(0);
}

console.log('| module | mutants | killed | timed out | survived | no coverage | score |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [path, mutants] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
  const c = (s) => mutants.filter((m) => m.status === s).length;
  const killed = c('Killed');
  const timeout = c('Timeout');
  const survived = c('Survived');
  const noCov = c('NoCoverage');
  const valid = killed + timeout + survived + noCov;
  const score = valid ? ((100 * (killed + timeout)) / valid).toFixed(1) : 'n/a';
  console.log(`| ${path} | ${valid} | ${killed} | ${timeout} | ${survived} | ${noCov} | ${score} % |`);
}
