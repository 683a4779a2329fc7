/**
 * The launcher: a small process the coordinator forks once per run to start streams.
 * fork(2) costs grow with the parent's memory, and the coordinator is the larger process;
 * starting streams from here also moves that cost off the coordinator's thread. It runs
 * the same spawner (process groups, log files, leftovers stopped at the leader's exit) and
 * reports over the IPC channel. When the coordinator goes away (killed, power cut), the
 * launcher stays while streams it started still run: it keeps their logs and records each
 * exit in the stream's exit file, so that `coord run --resume --adopt` can take them over;
 * then it exits.
 */
import { spawnProcess } from './spawner.js';
import { writeFileSync } from 'node:fs';
import { OUTPUT_PING_MS, type ExitRecord, type LaunchReply, type LaunchRequest } from './launcher-protocol.js';

let running = 0;
let orphaned = false;

function send(m: LaunchReply): void {
  if (process.connected) process.send?.(m);
}

let baseEnv: Record<string, string> = {};

function envOf(m: LaunchRequest): Record<string, string> {
  if (m.env.base) baseEnv = m.env.base;
  const env = { ...baseEnv, ...m.env.set };
  for (const k of m.env.unset) delete env[k];
  return env;
}

function launch(m: LaunchRequest): void {
  let lastPing = 0;
  const proc = spawnProcess({
    command: m.command,
    cwd: m.cwd,
    env: envOf(m),
    stdoutFile: m.stdoutFile,
    stderrFile: m.stderrFile,
    ...(m.lines ? { onLine: (fd: 'stdout' | 'stderr', line: string) => send({ t: 'line', id: m.id, fd, line }) } : {}),
    ...(m.output
      ? {
          onOutput: () => {
            const now = performance.now();
            if (now - lastPing < OUTPUT_PING_MS) return;
            lastPing = now;
            send({ t: 'output', id: m.id });
          },
        }
      : {}),
  });
  running++;
  send({ t: 'spawned', id: m.id, pid: proc.pid, procStartTime: proc.procStartTime });
  void proc.exited.then((info) => {
    running--;
    if (orphaned && m.exitFile) {
      const rec: ExitRecord = { exitCode: info.exitCode, signal: info.signal, time: new Date().toISOString() };
      try {
        writeFileSync(m.exitFile, JSON.stringify(rec) + '\n', { mode: 0o600 });
      } catch {
        /* the run directory is gone */
      }
    }
    send({ t: 'exit', id: m.id, ...info });
    if (orphaned && running === 0) process.exit();
  });
}

// A Ctrl-C reaches the whole foreground process group, launchers included: stopping streams
// (TERM, grace, KILL) is the coordinator's job, and the launcher must outlive it to report exits.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => undefined);

process.on('message', (m: LaunchRequest) => {
  if (m.t === 'spawn') launch(m);
});
process.on('disconnect', () => {
  orphaned = true;
  if (running === 0) process.exit();
});
