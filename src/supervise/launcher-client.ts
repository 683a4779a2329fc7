/**
 * A Spawner that starts streams through the launcher process (src/supervise/launcher.ts).
 * Signals still go straight from the coordinator to each stream's process group; only the
 * fork and the pipes live in the launcher. If the launcher dies, every stream it started is
 * killed (it can no longer be supervised) and reported as exited with an error.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { unreachable } from '../core/unreachable.js';
import { sameProcess, signalGroup } from '../util/proc.js';
import type { ExitInfo, SpawnRequest, Spawner, StreamProcess } from './spawner.js';
import type { LaunchReply, LaunchRequest } from './launcher-protocol.js';

const LAUNCHER = fileURLToPath(new URL('./launcher.js', import.meta.url));

interface Pending {
  req: SpawnRequest;
  resolve(p: StreamProcess): void;
  reject(e: Error): void;
  launcher: ChildProcess;
  pid?: number;
  finish?: (info: ExitInfo) => void;
}

/** Launcher processes per run (the machines this was measured on have 2 cores). */
export const DEFAULT_LAUNCHERS = 2;

/** True when the compiled launcher is next to this module (not under a TypeScript loader). */
export function launcherAvailable(): boolean {
  return existsSync(LAUNCHER);
}

export class LauncherSpawner implements Spawner {
  private readonly children: Array<ChildProcess | undefined>;
  private turn = 0;
  private readonly bases = new WeakMap<ChildProcess, Record<string, string>>();
  private readonly live = new Map<number, Pending>();
  private nextId = 1;

  private readonly logFile: string | undefined;

  /**
   * `launchers` processes share the work: each blocks while its child execs, so two overlap.
   * `logFile` receives what the launchers themselves print (a crash, say).
   */
  constructor(launchers = DEFAULT_LAUNCHERS, logFile?: string) {
    this.logFile = logFile;
    this.children = new Array<ChildProcess | undefined>(Math.max(1, launchers)).fill(undefined);
  }

  spawn(req: SpawnRequest): Promise<StreamProcess> {
    const slot = this.turn++ % this.children.length;
    const child = this.ensure(slot);
    const id = this.nextId++;
    return new Promise<StreamProcess>((resolve, reject) => {
      this.live.set(id, { req, resolve, reject, launcher: child });
      const msg: LaunchRequest = {
        t: 'spawn',
        id,
        command: req.command,
        cwd: req.cwd,
        env: this.envDelta(child, req.env),
        stdoutFile: req.stdoutFile,
        stderrFile: req.stderrFile,
        ...(req.exitFile ? { exitFile: req.exitFile } : {}),
        lines: req.onLine !== undefined,
        output: req.onOutput !== undefined,
      };
      child.send(msg, (e) => {
        if (e) this.fail(id, new Error(`launcher: ${e.message}`));
      });
    });
  }

  /** The first request to a launcher carries the whole environment; later ones only what differs. */
  private envDelta(child: ChildProcess, env: NodeJS.ProcessEnv): LaunchRequest['env'] {
    const full: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) full[k] = v;
    const base = this.bases.get(child);
    if (!base) {
      this.bases.set(child, full);
      return { base: full, set: {}, unset: [] };
    }
    const set: Record<string, string> = {};
    const unset: string[] = [];
    for (const [k, v] of Object.entries(full)) if (base[k] !== v) set[k] = v;
    for (const k of Object.keys(base)) if (!(k in full)) unset.push(k);
    return { set, unset };
  }

  close(): void {
    this.children.forEach((c, i) => {
      if (c?.connected) c.disconnect();
      this.children[i] = undefined;
    });
  }

  private ensure(slot: number): ChildProcess {
    const existing = this.children[slot];
    if (existing) return existing;
    // A small young generation keeps the launcher's memory, and so each fork, small.
    // The launcher may outlive the coordinator (see launcher.ts): it must not hold the
    // coordinator's stdout/stderr open, so its own messages go to a log file, if any.
    let log: number | 'ignore' = 'ignore';
    try {
      if (this.logFile) log = openSync(this.logFile, 'a', 0o600);
    } catch {
      /* no log then */
    }
    const child = fork(LAUNCHER, [], { execArgv: ['--max-semi-space-size=1'], stdio: ['ignore', 'ignore', log, 'ipc'], serialization: 'json' });
    if (typeof log === 'number') closeSync(log);
    child.on('message', (m: LaunchReply) => this.onMessage(m));
    child.on('exit', () => this.onLauncherExit(child, slot));
    this.children[slot] = child;
    return child;
  }

  private onMessage(m: LaunchReply): void {
    const p = this.live.get(m.id);
    if (!p) return;
    switch (m.t) {
      case 'spawned': {
        p.pid = m.pid;
        const exited = new Promise<ExitInfo>((r) => (p.finish = r));
        p.resolve({
          pid: m.pid,
          pgid: m.pid,
          procStartTime: m.procStartTime,
          exited,
          signal: (sig) => signalGroup(m.pid, sig),
          leaderAlive: () => m.pid > 0 && sameProcess(m.pid, m.procStartTime),
        });
        break;
      }
      case 'line':
        p.req.onLine?.(m.fd, m.line);
        break;
      case 'output':
        p.req.onOutput?.();
        break;
      case 'exit':
        this.live.delete(m.id);
        if (p.finish)
          p.finish({ exitCode: m.exitCode, signal: m.signal, ...(m.error ? { error: m.error } : {}), ...(m.logError ? { logError: m.logError } : {}) });
        else p.resolve(exitedBeforeStart({ exitCode: m.exitCode, signal: m.signal, error: m.error ?? 'exited before it started' }));
        break;
      default:
        // the launcher is this build's own process: a message it cannot send is a bug
        return unreachable(m);
    }
  }

  private onLauncherExit(child: ChildProcess, slot: number): void {
    if (this.children[slot] === child) this.children[slot] = undefined;
    for (const [id, p] of this.live) {
      if (p.launcher !== child) continue;
      if (p.pid && p.pid > 0) signalGroup(p.pid, 'SIGKILL');
      this.fail(id, new Error('the launcher process exited'));
    }
  }

  private fail(id: number, e: Error): void {
    const p = this.live.get(id);
    if (!p) return;
    this.live.delete(id);
    if (p.finish) p.finish({ exitCode: null, signal: null, error: e.message });
    else p.reject(e);
  }
}

function exitedBeforeStart(info: ExitInfo): StreamProcess {
  return { pid: -1, pgid: -1, procStartTime: null, exited: Promise.resolve(info), signal: () => false };
}
