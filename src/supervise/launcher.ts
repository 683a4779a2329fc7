/**
 * The launcher: a small process the coordinator forks once per run to start streams.
 * fork(2) costs grow with the parent's memory, and the coordinator is the larger process;
 * starting streams from here also moves that cost off the coordinator's thread. It runs
 * the same spawner (process groups, log files, leftovers stopped at the leader's exit) and
 * reports over the IPC channel. When the coordinator goes away, so does the launcher.
 */
import { spawnProcess } from './spawner.js';
import { OUTPUT_PING_MS, type LaunchReply, type LaunchRequest } from './launcher-protocol.js';

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
  send({ t: 'spawned', id: m.id, pid: proc.pid, procStartTime: proc.procStartTime });
  void proc.exited.then((info) => send({ t: 'exit', id: m.id, ...info }));
}

// A Ctrl-C reaches the whole foreground process group, launchers included: stopping streams
// (TERM, grace, KILL) is the coordinator's job, and the launcher must outlive it to report exits.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => undefined);

process.on('message', (m: LaunchRequest) => {
  if (m.t === 'spawn') launch(m);
});
process.on('disconnect', () => {
  process.exitCode = 0;
  // Nothing else to do: streams live in their own process groups and the coordinator's
  // records know them; the pipes close with this process.
  process.exit();
});
