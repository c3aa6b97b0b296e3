// A child process that cannot outlive the gateway, even when the gateway is killed with SIGKILL.
// Node cannot ask the kernel to signal a child when its parent dies (PR_SET_PDEATHSIG), so the
// engine runs under a small POSIX shell that holds the read end of a pipe whose only write end is
// the gateway's: when the gateway's process ends, however it ends, the kernel closes that end, the
// watcher reads end-of-file and stops the engine (SIGTERM, then SIGKILL after the grace).
//
// The shell stays the engine's parent so that the engine's pid cannot be reused while anything
// may still signal it (a dead child stays a zombie until its parent waits for it), forwards the
// gateway's SIGTERM to it, turns the gateway's SIGUSR1 into a SIGKILL of the engine alone (a hung
// engine ignores SIGTERM until it runs again: a stopped one never does), and exits with its status (128 + the signal's number when a signal
// ended it). The whole tree is a process group of its own: a stop that outlasts its grace kills
// the group at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import readline from 'node:readline';

const PID_MARKER = 'switchyard-engine-pid ';
/** How long kill() waits for the shell to report the engine's end before it kills the group. */
const KILL_REPORT_MS = 2_000;

/*
 * $1: the watcher's grace in seconds; the rest: the engine's command line.
 * fd 3 keeps the gateway's pipe for the watcher alone: a background command's standard input is
 * /dev/null, and the engine gets neither. `wait` returns early when a trapped signal arrives, so
 * it is repeated until the engine is really gone (kill -0 fails once it has been reaped).
 * SIGUSR1's trap is set before the engine's pid is reported: the gateway sends it only once it
 * knows that pid, and the signal's default action would end the shell. The shell ignores SIGPIPE (set after the forks, so that neither child inherits it): with the gateway
 * gone, its report of the engine's end on stderr would kill it before it stops the watcher, whose
 * delayed SIGKILL would then reach a pid no longer reserved.
 */
const GUARD_SCRIPT = `
grace=$1; shift
exec 3<&0 </dev/null
"$@" 3<&- &
engine=$!
trap 'kill -KILL "$engine" 2>/dev/null' USR1
printf '${PID_MARKER}%s\\n' "$engine"
(
  while read -r _; do :; done <&3
  kill -TERM "$engine" 2>/dev/null
  sleep "$grace"
  kill -KILL "$engine" 2>/dev/null
) &
watcher=$!
exec 3<&-
trap 'kill -TERM "$engine" 2>/dev/null' TERM INT HUP
trap '' PIPE
status=0
while :; do
  wait "$engine"; status=$?
  kill -0 "$engine" 2>/dev/null || break
done
kill "$watcher" 2>/dev/null
exit "$status"
`;

/** How the engine ended: its exit code, or the signal that ended it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function describeExit(exit: ProcessExit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
}

/** The shell's status as the engine's own: 128 + n is signal n (the shell's way of saying so). */
function engineExit(code: number | null, signal: NodeJS.Signals | null): ProcessExit {
  if (signal !== null || code === null || code <= 128) return { code, signal };
  const name = Object.entries(constants.signals).find(([, number]) => number === code - 128)?.[0] as NodeJS.Signals | undefined;
  return name === undefined ? { code, signal } : { code: null, signal: name };
}

export interface GuardedProcessOptions {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Seconds the watcher gives the engine between its SIGTERM and SIGKILL once the gateway is gone. */
  orphanGraceSeconds: number;
  /** Each line the engine writes, stdout and stderr alike. */
  onLine(line: string): void;
}

export class GuardedProcess {
  /** Resolves once the engine (and its shell) ended. */
  readonly exited: Promise<ProcessExit>;
  private readonly shell: ChildProcess;
  private enginePid?: number;
  private ended?: ProcessExit;

  constructor(options: GuardedProcessOptions) {
    this.shell = spawn('/bin/sh', ['-c', GUARD_SCRIPT, 'switchyard-engine', String(options.orphanGraceSeconds), options.command, ...options.args], {
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // A process group of its own: a hard stop kills the shell, the engine and the watcher together.
      detached: true,
    });
    const { stdout, stderr } = this.shell;
    readline.createInterface({ input: stdout! }).on('line', (line) => {
      if (this.enginePid === undefined && line.startsWith(PID_MARKER)) this.enginePid = Number(line.slice(PID_MARKER.length));
      else options.onLine(line);
    });
    readline.createInterface({ input: stderr! }).on('line', (line) => options.onLine(line));
    // Never written to: its end is the signal. A write error (the watcher gone) means nothing.
    this.shell.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      const finish = (exit: ProcessExit) => {
        if (this.ended) return;
        this.ended = exit;
        // Releases the watcher, if it is still there.
        this.shell.stdin!.destroy();
        resolve(exit);
      };
      this.shell.once('exit', (code, signal) => finish(engineExit(code, signal)));
      // The shell could not be started at all.
      this.shell.once('error', (error) => {
        options.onLine(`cannot start /bin/sh: ${error.message}`);
        finish({ code: null, signal: null });
      });
    });
  }

  /** The engine's own pid (the shell's child), once the shell has reported it. */
  get pid(): number | undefined {
    return this.enginePid;
  }

  get running(): boolean {
    return this.ended === undefined;
  }

  /** SIGTERM to the engine (through its shell), then SIGKILL to the whole group after `graceMs`. */
  stop(graceMs: number): Promise<ProcessExit> {
    return this.signalThenKillGroup('SIGTERM', false, graceMs);
  }

  /**
   * SIGKILL to the engine at once, for one that is alive but not answering. Sent by its shell,
   * which then reaps it, so that no zombie is left; the whole group is killed if the shell does
   * not report the end within `KILL_REPORT_MS`.
   */
  kill(): Promise<ProcessExit> {
    const throughShell = this.enginePid !== undefined;
    return this.signalThenKillGroup(throughShell ? 'SIGUSR1' : 'SIGKILL', !throughShell, KILL_REPORT_MS);
  }

  /** Sends `signal`, then SIGKILL to the whole group unless the process has ended within `waitMs`. */
  private async signalThenKillGroup(signal: NodeJS.Signals, wholeGroup: boolean, waitMs: number): Promise<ProcessExit> {
    if (this.ended) return this.ended;
    this.signalGroup(signal, wholeGroup);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (this.ended) return this.ended;
    this.signalGroup('SIGKILL', true);
    return this.exited;
  }

  private signalGroup(signal: NodeJS.Signals, wholeGroup: boolean): void {
    const pid = this.shell.pid;
    if (pid === undefined) return;
    try {
      process.kill(wholeGroup ? -pid : pid, signal);
    } catch {
      // Already gone.
    }
  }
}
