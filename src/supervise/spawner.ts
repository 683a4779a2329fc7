/**
 * One stream attempt = one child process leading its own process group (`detached: true`,
 * so setsid(2) makes pid == pgid). Stopping it signals the whole group (`kill(-pgid)`), which
 * reaches grandchildren a shell started — `child.kill()` alone would leave them running.
 * stdout and stderr go to files and, line by line, to a callback for the reporters.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { processStartTime, sameProcess, signalGroup, groupAlive, groupGone } from '../util/proc.js';
import { DiskFullError, isDiskFull } from '../util/disk-full.js';
import { LineSplitter } from '../util/lines.js';

export interface SpawnRequest {
  command: string | string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdoutFile: string;
  stderrFile: string;
  /** Where a launcher records the exit when the coordinator has gone (see launcher.ts). */
  exitFile?: string;
  /** Each complete line of output (and a last partial line at the end). */
  onLine?: (fd: 'stdout' | 'stderr', line: string) => void;
  /** Any output at all (for liveness), called at most once per chunk. */
  onOutput?: () => void;
}

export interface ExitInfo {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** spawn(2) failed (command not found is exit 127 from sh; this is e.g. a bad cwd or ENOENT for an array command). */
  error?: string;
  /** A remote attempt whose worker was lost (its lease expired): it runs again elsewhere. */
  lost?: string;
  /** A remote attempt ended but its outputs could not come back (too large, unreadable). */
  outputsError?: string;
  /**
   * The attempt's output could not be written to its log file (`disk full: <path>` when the
   * disk or the quota is full): the attempt was stopped, since what it printed was being lost.
   */
  logError?: { message: string; diskFull: boolean };
}

export interface StreamProcess {
  readonly pid: number;
  readonly pgid: number;
  readonly procStartTime: number | null;
  /** Resolves when the leader has exited and its output is flushed to the files. */
  readonly exited: Promise<ExitInfo>;
  /** Signals the whole process group; false when it is already gone. */
  signal(sig: NodeJS.Signals): boolean;
  /**
   * False once the leader has exited, before its exit is reported (a zombie counts as exited):
   * what it left in its group is then a leftover, and its exit status stands. Absent where this
   * host cannot see the process (a remote attempt).
   */
  leaderAlive?(): boolean;
  /** A process on a `coord worker` host (pid and pgid are then 0): the worker's id and host. */
  readonly worker?: string;
  readonly host?: string;
}

/** Injected into the orchestrator so tests and other engines can replace process creation. */
export interface Spawner {
  /** Starts the process; rejects only when it could not be asked for (a spawn(2) failure is an exit with `error`). */
  spawn(req: SpawnRequest): Promise<StreamProcess>;
  /** Releases what the spawner holds (a launcher process); running streams are not touched. */
  close?(): void;
}

/** How long to wait for the pipes to close after the leader exits before giving up on them. */
const DRAIN_MS = 2000;

export interface LazyFile {
  write(chunk: Buffer): void;
  close(): Promise<void>;
}

/** What a log file's write failure says: `disk full: <path>` for ENOSPC and EDQUOT. */
export function logErrorOf(path: string, e: unknown): { message: string; diskFull: boolean } {
  if (isDiskFull(e)) return { message: new DiskFullError(path, String((e as NodeJS.ErrnoException).code)).message, diskFull: true };
  return { message: `${path}: ${e instanceof Error ? e.message : String(e)}`, diskFull: false };
}

/**
 * An append-only file opened on its first write (a silent stream costs no open(2)). A failed
 * write (a full disk) is reported once to `onError`; what comes after it is dropped.
 */
export function lazyFile(path: string, onError?: (e: unknown) => void): LazyFile {
  let stream: WriteStream | undefined;
  let failed = false;
  let closing: Promise<void> | undefined;
  return {
    write(chunk) {
      if (failed) return;
      if (!stream) {
        stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
        // without a listener, a write error (ENOSPC) would be thrown and end the whole process
        stream.on('error', (e) => {
          if (failed) return;
          failed = true;
          onError?.(e);
        });
      }
      stream.write(chunk);
    },
    close() {
      const s = stream;
      // 'close' follows both a clean end and an error (autoDestroy)
      closing ??= s && !s.closed ? new Promise<void>((r) => (s.once('close', () => r()), s.end())) : Promise.resolve();
      return closing;
    },
  };
}

/** How long an attempt's end waits, after the SIGKILL of its leftovers, for them to be gone. */
const GONE_MS = 5000;

/** How the spawner sees a process group (injected by tests). */
export interface GroupProbe {
  /** True while a live process is in the group. */
  groupAlive(pgid: number): boolean;
  /** How long to wait for the group to be gone after its SIGKILL. */
  goneMs: number;
}

const systemProbe: GroupProbe = { groupAlive, goneMs: GONE_MS };

/**
 * Spawns in this process (synchronously: the fork happens on the calling thread). The attempt
 * has exited only once its whole group has: nothing of it outlives the report of its exit.
 */
export function spawnProcess(req: SpawnRequest, probe: GroupProbe = systemProbe): StreamProcess {
  const [file, args] = typeof req.command === 'string' ? (['/bin/sh', ['-c', req.command]] as const) : ([req.command[0] ?? '', req.command.slice(1)] as const);
  const child = spawn(file, args, {
    cwd: req.cwd,
    env: req.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid ?? -1;
  // Output that cannot be stored (a full disk) stops the attempt: TERM, KILL after DRAIN_MS.
  let logError: ExitInfo['logError'];
  const onLogError = (file: string) => (e: unknown) => {
    if (logError) return;
    logError = logErrorOf(file, e);
    if (pid > 0 && signalGroup(pid, 'SIGTERM')) setTimeout(() => probe.groupAlive(pid) && signalGroup(pid, 'SIGKILL'), DRAIN_MS).unref();
  };
  // Log files are opened on the first byte of output: a silent stream costs no open(2).
  const out = lazyFile(req.stdoutFile, onLogError(req.stdoutFile));
  const errOut = req.stderrFile === req.stdoutFile ? out : lazyFile(req.stderrFile, onLogError(req.stderrFile));
  const procStart = pid > 0 ? processStartTime(pid) : null;

  const pump = (stream: NodeJS.ReadableStream | null, fd: 'stdout' | 'stderr', file: LazyFile): Promise<void> =>
    new Promise((resolve) => {
      if (!stream) return resolve();
      // A pipe's chunks end wherever the writes did, inside a UTF-8 character as often as not:
      // one splitter (one decoder) per fd keeps the bytes of a character cut short until the rest comes.
      const lines = new LineSplitter({ stripCR: true });
      stream.on('data', (chunk: Buffer) => {
        file.write(chunk);
        req.onOutput?.();
        if (req.onLine) for (const line of lines.push(chunk)) req.onLine(fd, line);
      });
      stream.on('end', () => {
        const last = lines.end();
        if (last !== null && req.onLine) req.onLine(fd, last);
        resolve();
      });
      stream.on('error', () => resolve());
    });

  const pumps = Promise.all([pump(child.stdout, 'stdout', out), pump(child.stderr, 'stderr', errOut)]);

  const exited = new Promise<ExitInfo>((resolve) => {
    let spawnError: string | undefined;
    child.once('error', (e) => {
      spawnError = e.message;
      // 'exit' may not follow a spawn failure.
      if (pid <= 0) void finish({ exitCode: null, signal: null, error: spawnError });
    });
    child.once('exit', (code, sig) => {
      void finish({ exitCode: code, signal: sig, ...(spawnError ? { error: spawnError } : {}) });
    });
    let finished = false;
    async function finish(info: ExitInfo): Promise<void> {
      if (finished) return;
      finished = true;
      // The leader's exit ends the attempt: whatever it left running in its group (a
      // backgrounded grandchild holding the pipes open) is stopped, TERM first, then KILL.
      if (pid > 0 && probe.groupAlive(pid)) signalGroup(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([pumps, new Promise<void>((r) => (timer = setTimeout(r, DRAIN_MS)))]);
      if (timer) clearTimeout(timer);
      if (pid > 0 && probe.groupAlive(pid)) {
        signalGroup(pid, 'SIGKILL');
        // a killed process is gone only once the kernel has run its exit (later under load)
        await groupGone(pid, probe.goneMs, 10, (g) => probe.groupAlive(g));
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      await Promise.all([out.close(), errOut.close()]);
      resolve(logError ? { ...info, logError } : info);
    }
  });

  return {
    pid,
    pgid: pid,
    procStartTime: procStart,
    exited,
    signal: (sig) => signalGroup(pid, sig),
    leaderAlive: () => pid > 0 && sameProcess(pid, procStart),
  };
}

/** The spawner that forks from this process. */
export const nodeSpawner: Spawner = {
  spawn: async (req) => spawnProcess(req),
};
