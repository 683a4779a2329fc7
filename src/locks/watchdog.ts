/**
 * The watchdog of `coord lock`: `node watchdog.js GRACE_MS`, started by `coord lock` before it
 * asks for the lock, with a pipe from `coord lock` as its standard input.
 *
 * Why it exists: CMD must not outlive its `coord lock`. When `coord lock` is killed with SIGKILL
 * (or crashes) nothing of it runs any more — no signal handler, no exit hook — and CMD would go
 * on inside a critical section whose lock is then reclaimed and granted to the next waiter.
 * Linux can signal a child when its parent dies (prctl(PR_SET_PDEATHSIG)), but Node cannot set
 * it, and it would reach CMD alone, not what CMD started. So a second process watches: when the
 * pipe closes while CMD runs, `coord lock` is gone, and the watchdog stops CMD's whole tree —
 * SIGTERM, then SIGKILL after GRACE_MS — and ends only when none of it is left. The grant names
 * the watchdog (Party.watchdog) and is reclaimed only once both `coord lock` and its watchdog
 * are gone (registry.ts, processGone): the next holder never starts beside a CMD still running.
 *
 * Why not a process group of CMD's own, killed as a whole: CMD stays in `coord lock`'s process
 * group (a stream's group, or a terminal's foreground group), so Ctrl-C, job control and the
 * guardian's stop of a stream's group reach it as before; a group (and session) of its own would
 * take CMD off the terminal. The watchdog is in that group too, so whatever stops the whole group
 * stops all three; it ignores the signals a terminal or a stop sends to the group (INT, TERM,
 * HUP, QUIT, USR1, USR2), which `coord lock` passes on to CMD itself, and SIGKILL ends it.
 *
 * CMD's tree: CMD itself (pid and start time), its descendants, and every process whose
 * COORD_LOCK_CHAIN names the grant's ticket — what CMD started, including what was reparented
 * when its parent died or forked twice to leave. Found in /proc: on Linux.
 *
 * On standard input, one line each: `ticket <hex>` once the lock is granted (before CMD starts),
 * `cmd <pid> <start time|->` once CMD runs. When CMD ends, `coord lock` ends the watchdog with
 * SIGKILL; a pipe that closes before any line means no CMD was started, and the watchdog ends.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { sameProcess } from '../util/proc.js';
import { LineSplitter } from '../util/lines.js';

const GRACE_MS = Number(process.argv[2] ?? '2000') || 2000;
/** After SIGKILL, how long to wait for the tree to go before giving up (the grant's lease then ends it). */
const GIVE_UP_MS = 10_000;
const WRAPPER = process.ppid;

for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGPIPE'] as NodeJS.Signals[]) process.on(s, () => {});

let ticket: string | null = null;
let cmd: { pid: number; start: number | null } | null = null;

interface Proc {
  ppid: number;
  start: number | null;
  marked: boolean;
}

/** Every live process of /proc (zombies left out), with its parent, start time, and whether its COORD_LOCK_CHAIN names the ticket. */
function scan(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      const start = Number(fields[19]);
      let marked = false;
      if (ticket) {
        try {
          const chain = readFileSync(`/proc/${name}/environ`, 'latin1')
            .split('\0')
            .find((v) => v.startsWith('COORD_LOCK_CHAIN='));
          marked = chain?.includes(`:${ticket}:`) === true;
        } catch {
          /* another user's process: not ours to stop */
        }
      }
      out.set(pid, { ppid: Number(fields[1]), start: Number.isFinite(start) ? start : null, marked });
    } catch {
      /* ended meanwhile */
    }
  }
  return out;
}

/** The processes of CMD's tree still alive: those seen before, CMD, the marked ones, and all their descendants. */
function tree(known: Map<number, number | null>): Map<number, number | null> {
  const procs = scan();
  const found = new Map<number, number | null>();
  for (const [pid, start] of known) if (procs.get(pid)?.start === start) found.set(pid, start);
  if (cmd && sameProcess(cmd.pid, cmd.start)) found.set(cmd.pid, cmd.start);
  for (const [pid, p] of procs) if (p.marked) found.set(pid, p.start);
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const queue = [...found.keys()];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      if (found.has(c)) continue;
      found.set(c, procs.get(c)?.start ?? null);
      queue.push(c);
    }
  }
  found.delete(process.pid);
  return found;
}

async function stopTree(): Promise<never> {
  if (!ticket && !cmd) process.exit(0);
  process.stderr.write(
    `coord: coord lock (pid ${WRAPPER}) ended while its command ran; stopping ${cmd ? `the command (pid ${cmd.pid})` : 'its command'} and what it started\n`,
  );
  const started = Date.now();
  const termed = new Set<number>();
  let known = new Map<number, number | null>();
  for (;;) {
    known = tree(known);
    if (known.size === 0) process.exit(0);
    const late = Date.now() - started >= GRACE_MS;
    if (Date.now() - started >= GRACE_MS + GIVE_UP_MS) {
      process.stderr.write(`coord: could not stop pids ${[...known.keys()].join(', ')}; the lock goes on when its lease ends\n`);
      process.exit(1);
    }
    for (const pid of known.keys()) {
      if (!late && termed.has(pid)) continue;
      try {
        process.kill(pid, late ? 'SIGKILL' : 'SIGTERM');
      } catch {
        /* gone */
      }
      termed.add(pid);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

const lines = new LineSplitter();
let ended = false;
const onEnd = (): void => {
  if (ended) return;
  ended = true;
  void stopTree();
};
process.stdin.on('data', (d: Buffer) => {
  for (const line of lines.push(d)) {
    const [kind, a, b] = line.split(' ');
    if (kind === 'ticket' && a && /^[0-9a-f]+$/.test(a)) ticket = a;
    else if (kind === 'cmd' && a && Number.isInteger(Number(a))) cmd = { pid: Number(a), start: b === undefined || b === '-' ? null : Number(b) };
  }
});
process.stdin.on('end', onEnd);
process.stdin.on('error', onEnd);
