/**
 * The dashboard page: one HTML document with its CSS and script inlined (no front-end build,
 * no framework). It carries no run data: the script fills it from the server's event stream,
 * so nothing from the run is ever interpolated into this markup.
 */
import { CLIENT_SCRIPT } from './client.js';

const STYLE = `
:root { color-scheme: light; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2937; background: #f6f7f9;
  --pending: #9ca3af; --waiting: #8b5cf6; --running: #2563eb; --stalled: #ea580c; --recovering: #d97706; --succeeded: #16a34a;
  --failed: #dc2626; --skipped: #94a3b8; --cancelled: #4b5563; --merging: #2563eb; --done: #16a34a; --interrupted: #b91c1c; }
[data-state] { --c: var(--pending); }
[data-state="waiting"] { --c: var(--waiting); } [data-state="running"] { --c: var(--running); }
[data-state="stalled"] { --c: var(--stalled); } [data-state="recovering"] { --c: var(--recovering); }
[data-state="succeeded"], [data-state="done"] { --c: var(--succeeded); } [data-state="failed"] { --c: var(--failed); }
[data-state="skipped"] { --c: var(--skipped); } [data-state="cancelled"] { --c: var(--cancelled); }
[data-state="merging"] { --c: var(--merging); } [data-state="interrupted"] { --c: var(--interrupted); }
[data-state="passed"] { --c: var(--succeeded); } [data-state="timed-out"] { --c: var(--failed); }
body { margin: 0; }
header { background: #111827; color: #f9fafb; padding: 12px 24px; border-bottom: 4px solid var(--c, #374151); }
h1 { font-size: 18px; margin: 0 0 6px; font-weight: 600; }
h1 .dim { color: #9ca3af; font-weight: 400; }
h2 { font-size: 15px; margin: 0 0 8px; }
h2 .count { color: #6b7280; font-weight: 400; font-size: 13px; margin-left: 6px; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 28px; margin: 0; }
.facts div { display: flex; gap: 6px; align-items: baseline; }
.facts dt { color: #9ca3af; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.facts dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
#feed[data-feed="live"]::before { content: "● "; color: #22c55e; }
#feed[data-feed="down"]::before { content: "● "; color: #f59e0b; }
#problem { margin: 8px 0 0; color: #fecaca; }
main { padding: 16px 24px 24px; display: grid; gap: 16px; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 14px; min-width: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #f1f3f5; vertical-align: top; }
thead th { font-size: 12px; color: #6b7280; font-weight: 600; border-bottom: 1px solid #e5e7eb; }
tbody th { font-weight: 600; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; white-space: nowrap; }
tr.none td { color: #9ca3af; font-style: italic; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 8px; border-radius: 999px; background: var(--c); color: #fff; font-size: 12px; line-height: 20px; }
.note { color: #6b7280; font-size: 12px; white-space: nowrap; }
.msg { color: #4b5563; }
progress { width: 70px; vertical-align: middle; }
meter { width: 90px; vertical-align: middle; }
ul.plain { list-style: none; margin: 0; padding: 0; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
td.timeline { width: 42%; min-width: 200px; }
.lane { position: relative; height: 16px; background: #f3f4f6; border-radius: 3px; margin-top: 2px; }
.bar { position: absolute; top: 0; bottom: 0; min-width: 3px; border-radius: 3px; background: var(--c); }
tr[data-state="running"] .bar { background-image: linear-gradient(90deg, transparent 0 60%, rgba(255,255,255,.35) 60% 100%);
  background-size: 24px 100%; animation: slide 1s linear infinite; }
@keyframes slide { to { background-position: 24px 0; } }
@media (prefers-reduced-motion: reduce) { tr[data-state="running"] .bar { animation: none; } }
#event-log { max-height: 320px; overflow: auto; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
#event-log thead th { position: sticky; top: 0; background: #fff; }
#event-log td { padding: 2px 8px; white-space: pre-wrap; word-break: break-word; }
#event-log td:nth-child(1), #event-log td:nth-child(2) { white-space: nowrap; color: #6b7280; }
#event-log tr[data-type="stream-ended"] td:nth-child(3), #event-log tr[data-type="run-ended"] td:nth-child(3) { font-weight: 600; }
#event-log tr[data-type="point-conflict"] td:nth-child(3), #event-log tr[data-type="point-failed"] td:nth-child(3) { color: var(--failed); }
`;

function table(id: string, heading: string, columns: string[], extra = ''): string {
  const head = columns.map((c) => `<th scope="col">${c}</th>`).join('');
  return `<section aria-labelledby="h-${id}"><h2 id="h-${id}">${heading}${extra}</h2>
<table id="${id}"><thead><tr>${head}</tr></thead><tbody></tbody></table></section>`;
}

/** The whole page; `nonce` must be the one in the response's Content-Security-Policy. */
export function renderPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>coord dashboard</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header id="run" data-state="pending">
<h1>coord <span class="dim">·</span> <span id="run-name">loading…</span></h1>
<dl class="facts">
<div><dt>Run</dt><dd id="run-id">-</dd></div>
<div><dt>State</dt><dd id="run-state">-</dd></div>
<div><dt>Plan</dt><dd id="run-plan">-</dd></div>
<div><dt>Started</dt><dd id="run-started">-</dd></div>
<div><dt>Elapsed</dt><dd id="run-elapsed">-</dd></div>
<div><dt>Feed</dt><dd id="feed" data-feed="connecting">connecting…</dd></div>
</dl>
<p id="problem" role="alert" hidden></p>
</header>
<main>
${table('streams', 'Streams', ['Stream', 'State', 'Attempts', 'Last heartbeat', 'Progress', 'Timeline <span id="timeline-scale" class="note"></span>'], '<span id="stream-counts" class="count"></span>')}
<div class="grid">
${table('points', 'Convergence points', ['Point', 'Type', 'State', 'Merged', 'Conflicts', 'Checks'])}
${table('resources', 'Resource pools', ['Pool', 'In use', 'Holders', 'Waiters'])}
${table('proposals', 'Proposals', ['Name', 'Kind', 'State', 'Votes'])}
${table('locks', 'Locks', ['Path', 'Mode', 'Holders', 'Waiters'])}
${table('state', 'State versions', ['Version', 'Stream', 'Time', 'Change'])}
</div>
<section aria-labelledby="h-log"><h2 id="h-log">Event log<span id="event-count" class="count"></span></h2>
<div id="event-log" role="log" tabindex="0"><table><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">What happened</th></tr></thead><tbody id="events"></tbody></table></div>
</section>
</main>
<script nonce="${nonce}">${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
