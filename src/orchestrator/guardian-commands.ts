/**
 * `recovery.guardian.command`: a command run when a stream stalls (an agent asked to
 * diagnose, say), with the stream's environment and context; its output is kept in
 * `streams/<id>/guardian-<attempt>.log`. The run waits for these commands before it ends,
 * for at most the guardian's grace, then stops them.
 */
import { join } from 'node:path';
import type { EventInput } from '../events/types.js';
import type { Spawner, StreamProcess } from '../supervise/spawner.js';

export interface StalledStream {
  id: string;
  attempt: number;
  lastHeartbeat: string | null;
  workspace: string;
  logDir: string;
  /** The stream's own environment (SPEC §3). */
  env: NodeJS.ProcessEnv;
}

export class GuardianCommands {
  private readonly runs = new Set<Promise<void>>();
  private readonly procs = new Set<StreamProcess>();
  private readonly spawner: Spawner;
  private readonly emit: (e: EventInput) => void;

  constructor(spawner: Spawner, emit: (e: EventInput) => void) {
    this.spawner = spawner;
    this.emit = emit;
  }

  run(command: string | string[], s: StalledStream): void {
    const log = join(s.logDir, `guardian-${s.attempt}.log`);
    const env = {
      ...s.env,
      COORD_STALLED_STREAM: s.id,
      COORD_LAST_HEARTBEAT: s.lastHeartbeat ?? '',
      COORD_STDOUT_FILE: join(s.logDir, 'stdout'),
      COORD_STDERR_FILE: join(s.logDir, 'stderr'),
    };
    const run = this.spawner
      .spawn({ command, cwd: s.workspace, env, stdoutFile: log, stderrFile: log })
      .then(async (proc) => {
        this.procs.add(proc);
        this.emit({ type: 'warning', stream: s.id, message: `guardian command started (pid ${proc.pid}), output in ${log}` });
        const info = await proc.exited;
        this.procs.delete(proc);
        this.emit({ type: 'warning', stream: s.id, message: `guardian command exited ${info.signal ?? info.exitCode}` });
      })
      .catch((e: unknown) => this.emit({ type: 'warning', stream: s.id, message: `guardian command: ${String(e)}` }));
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
  }

  /** Waits for the commands still running, for at most `graceMs`; then stops them. */
  async settle(graceMs: number): Promise<void> {
    if (this.runs.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.runs), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    if (timer) clearTimeout(timer);
    for (const proc of this.procs) proc.signal('SIGKILL');
    await Promise.all(this.runs);
  }
}
