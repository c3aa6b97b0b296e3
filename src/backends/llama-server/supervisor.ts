// One llama-server process per model: started on a loopback port the gateway picks, ready when
// its /health answers 200 (killed when it does not within the load timeout), watched while it
// serves (its exit, and its /health: a process alive but not answering is killed), restarted with
// backoff after either, given up after repeated failures, and stopped (SIGTERM, then SIGKILL
// after a grace) on unload and shutdown. The capabilities reach it only through `connection`,
// which names the process serving now.
//
// States (one transition table, `move`): starting → serving → restarting → serving …;
// restarting → failed after too many failures; any → stopping → stopped.
import { randomBytes } from 'node:crypto';
import type { EngineProcessState } from '../../engine/contract.js';
import { EngineUnavailableError } from '../../engine/errors.js';
import type { Logger } from '../../logger.js';
import { networkReason, OpenAIClient, UpstreamTimeoutError } from '../../upstream/openai-client.js';
import type { LlamaServerConnection } from './connection.js';
import { describeExit, GuardedProcess, type ProcessExit } from './guarded-process.js';
import { freeLoopbackPort } from './loopback-port.js';

export type SupervisorStatus = 'starting' | 'serving' | 'restarting' | 'failed' | 'stopping' | 'stopped';

const TRANSITIONS: Record<SupervisorStatus, readonly SupervisorStatus[]> = {
  starting: ['serving', 'stopping'],
  serving: ['restarting', 'failed', 'stopping'],
  restarting: ['serving', 'failed', 'stopping'],
  failed: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

/** When to restart, and when to give up. */
export interface RestartPolicy {
  /** The first restart's delay; each failure in a row doubles it, up to `maxDelayMs`. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** A process that served this long was healthy: the next failure starts the backoff anew. */
  stableMs: number;
  /** This many failures (crashes and failed restarts) within `windowMs` make the model unavailable. */
  maxFailures: number;
  windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { firstDelayMs: 500, maxDelayMs: 30_000, stableMs: 60_000, maxFailures: 5, windowMs: 5 * 60_000 };

/** The liveness check of a serving process ([engines.llama_server] health_check_*; defaults there). */
export interface LivenessPolicy {
  /** The pause between one check's end and the next. */
  intervalMs: number;
  /** How long /health has to answer 200. */
  timeoutMs: number;
  /** Failed checks in a row that make the process count as hung. */
  failures: number;
}

/** Engine log lines kept for failure reports. */
const LOG_TAIL_LINES = 20;
/** Engine log text kept per line: enough for any llama.cpp message, not for a client's payload. */
const ENGINE_LOG_CHARS = 500;
/** A stop's SIGTERM gets this long before the SIGKILL. */
const STOP_GRACE_MS = 10_000;
/** The same, for the watcher that stops an engine whose gateway died. */
const ORPHAN_GRACE_SECONDS = 5;
/** Starts on a port another process took in between are tried again this many times. */
const PORT_ATTEMPTS = 5;
/** Bound on each /health and /props request while a process starts (a loading one answers 503 at once). */
const START_REQUEST_TIMEOUT_MS = 2_000;
/** How long a client is told to wait while a model is being stopped, or has failed for good. */
const STOPPED_RETRY_MS = 5_000;
const FAILED_RETRY_MS = 30_000;

/** Lines llama-server writes when it could not bind its port. */
const PORT_TAKEN = /address already in use|couldn't bind|could not bind|failed to bind/i;
/** llama.cpp's log prefix: seconds since start and a level letter ("0.00.117.524 W load: ..."). */
const LOG_PREFIX = /^\s*\d+(?:\.\d+)+ ([DIWE]) /;
/** Lines without a level (the argument parser's, the C library's) worth an operator's attention. */
const WARNING_LINE = /\b(error|failed|failure|abort|assert|fatal|warning|cannot|could not|out of memory)\b/i;

/** What llama-server says about itself once it serves (GET /props). */
export interface ServerProperties {
  /** Tokens of context of one slot. */
  slotContextLength?: number;
  totalSlots?: number;
  buildInfo?: string;
  vision?: boolean;
}

export interface SupervisorOptions {
  modelId: string;
  binary: string;
  /** The model's flags (options.ts); the supervisor adds where it listens. */
  modelArgs: readonly string[];
  /** Variables the model's process needs besides the gateway's environment (its media marker). */
  environment?: Readonly<Record<string, string>>;
  logger: Logger;
  /** Bound on the wait for /health to answer 200 after each start; past it the process is killed. */
  readyTimeoutMs: number;
  liveness: LivenessPolicy;
  /** Bound on the wait for a capability's response headers (a non-streamed generation sends them at its end). */
  responseTimeoutMs: number;
  restartPolicy?: RestartPolicy;
  onStateChange?(state: EngineProcessState): void;
  /** Aborts the first start (the model's load was cancelled). */
  signal?: AbortSignal;
}

/** One process that reached `serving`. */
interface Running {
  process: GuardedProcess;
  baseUrl: string;
  startedAt: number;
  /** Set when the liveness check killed it: why, in place of its exit status. */
  killedAsHung?: string;
}

/** A start that did not reach `serving`: why, and how the process ended, when it did. */
class StartFailure extends Error {
  constructor(
    message: string,
    readonly exit?: ProcessExit,
    /** Alive but not ready in time: killed at once, as SIGTERM may never be acted on. */
    readonly unresponsive = false,
  ) {
    super(message);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * One GET /health: undefined when it answered 200 within `timeoutMs`, else what went wrong. Sent
 * through the model's client, which retries once on a fresh connection when llama-server closed
 * the kept-alive one while idle (it does): that is not a process failing to answer.
 */
async function healthProblem(client: OpenAIClient, baseUrl: string, timeoutMs: number, signal: AbortSignal): Promise<string | undefined> {
  try {
    const response = await client.get(`${baseUrl}/health`, timeoutMs, signal);
    await response.arrayBuffer();
    return response.status === 200 ? undefined : `/health answered ${response.status}`;
  } catch (error) {
    if (error instanceof UpstreamTimeoutError) return `/health did not answer within ${timeoutMs / 1000} s`;
    return `/health: ${networkReason(error)}`;
  }
}

/** The gateway's environment, less what would configure llama-server behind the gateway's back (LLAMA_ARG_*, its key, its media marker). */
function engineEnvironment(apiKey: string, own: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('LLAMA_ARG_') && name !== 'LLAMA_API_KEY' && name !== 'LLAMA_MEDIA_MARKER'),
  );
  // Read from the environment, not the command line: the command line of every process is public.
  return { ...env, ...own, LLAMA_API_KEY: apiKey };
}

export class LlamaServerSupervisor {
  readonly connection: LlamaServerConnection;
  private statusNow: SupervisorStatus = 'starting';
  private running?: Running;
  /** The process of a start in progress (not serving yet). */
  private launching?: GuardedProcess;
  private readonly stopping = new AbortController();
  private readonly apiKey = randomBytes(24).toString('base64url');
  private readonly policy: RestartPolicy;
  private readonly logTail: string[] = [];
  private linesSeen = 0;
  private failures: number[] = [];
  private failuresInARow = 0;
  private restartTimer?: NodeJS.Timeout;
  private retryAt = 0;
  /** How the last failure ended (an exit status, or why it was killed), for reports. */
  private lastFailure?: string;
  private stopped?: Promise<void>;
  private propertiesNow: ServerProperties = {};

  private constructor(private readonly options: SupervisorOptions) {
    this.policy = options.restartPolicy ?? DEFAULT_RESTART_POLICY;
    const client = new OpenAIClient({ apiKey: this.apiKey, responseTimeoutMs: options.responseTimeoutMs });
    this.connection = { modelId: options.modelId, client, logger: options.logger, baseUrl: () => this.baseUrl() };
  }

  /** Starts the process and resolves once it serves; throws with its exit and last log lines when it cannot. */
  static async start(options: SupervisorOptions): Promise<LlamaServerSupervisor> {
    const supervisor = new LlamaServerSupervisor(options);
    const abort = () => void supervisor.stop();
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      await supervisor.launch();
    } catch (error) {
      await supervisor.stop();
      const reason = error instanceof Error ? error.message : String(error);
      const tail = supervisor.logTail.length > 0 ? `; its last log lines:\n${supervisor.logTail.join('\n')}` : '';
      throw new Error(`llama-server did not start: ${reason}${tail}`, { cause: error });
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
    return supervisor;
  }

  get status(): SupervisorStatus {
    return this.statusNow;
  }

  /** What the process said about itself at its first start. */
  get properties(): ServerProperties {
    return this.propertiesNow;
  }

  /** The pid of the llama-server process serving now. */
  get pid(): number | undefined {
    return this.running?.process.pid;
  }

  /** `http://127.0.0.1:PORT` of the process serving now, or undefined. */
  get address(): string | undefined {
    return this.statusNow === 'serving' ? this.running?.baseUrl : undefined;
  }

  private baseUrl(): string {
    if (this.statusNow === 'serving' && this.running) return this.running.baseUrl;
    const model = this.options.modelId;
    if (this.statusNow === 'restarting') {
      throw new EngineUnavailableError(
        `Model '${model}' is restarting: its engine process stopped unexpectedly; retry shortly.`,
        Math.max(1_000, this.retryAt - Date.now() + 1_000),
      );
    }
    if (this.statusNow === 'failed')
      throw new EngineUnavailableError(`Model '${model}' is unavailable: its engine process failed repeatedly.`, FAILED_RETRY_MS);
    throw new EngineUnavailableError(`Model '${model}' is not serving: its engine process is ${this.statusNow}.`, STOPPED_RETRY_MS);
  }

  private move(next: SupervisorStatus): boolean {
    if (!TRANSITIONS[this.statusNow].includes(next)) return false;
    this.statusNow = next;
    return true;
  }

  private report(state: EngineProcessState): void {
    try {
      this.options.onStateChange?.(state);
    } catch (error) {
      this.options.logger.error({ err: error }, 'engine state listener failed');
    }
  }

  /**
   * llama-server's lines go to the gateway's log as an escaped, capped field (they may quote a
   * client's text), at their own level (errors and warnings as such, the rest at debug, as for the
   * in-process engine; a line without a level at warn when it looks like trouble); the last few
   * are kept for failure reports.
   */
  private logLine(line: string): void {
    const prefix = LOG_PREFIX.exec(line);
    const text = (prefix ? line.slice(prefix[0].length) : line).trimEnd();
    if (text === '') return;
    const kept = text.slice(0, ENGINE_LOG_CHARS);
    this.linesSeen++;
    this.logTail.push(kept);
    if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift();
    const fields = { engine: 'llama-server', text: kept, ...(text.length > ENGINE_LOG_CHARS ? { textChars: text.length } : {}) };
    const level = prefix?.[1] ?? (WARNING_LINE.test(text) ? 'W' : 'D');
    if (level === 'E') this.options.logger.error(fields, 'engine log');
    else if (level === 'W') this.options.logger.warn(fields, 'engine log');
    else this.options.logger.debug(fields, 'engine log');
  }

  /**
   * One start: a process on a free port, until /health answers 200 (a taken port is tried again);
   * then `serving`, with its exit watched from that moment.
   */
  private async launch(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const port = await freeLoopbackPort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const linesBefore = this.linesSeen;
      const child = new GuardedProcess({
        command: this.options.binary,
        args: ['--host', '127.0.0.1', '--port', String(port), ...this.options.modelArgs],
        env: engineEnvironment(this.apiKey, this.options.environment),
        orphanGraceSeconds: ORPHAN_GRACE_SECONDS,
        onLine: (line) => this.logLine(line),
      });
      this.launching = child;
      try {
        await this.waitUntilHealthy(child, baseUrl);
        await this.readProperties(baseUrl);
        if (!child.running) throw new StartFailure('it exited as it started', await child.exited);
        if (!this.move('serving')) throw new StartFailure('stopped while starting');
        const running: Running = { process: child, baseUrl, startedAt: Date.now() };
        this.running = running;
        void child.exited.then((exit) => this.exitedWhileServing(running, exit));
        void this.watchLiveness(running);
        this.options.logger.info({ enginePid: child.pid, port }, 'llama-server serving');
        return;
      } catch (error) {
        const exit = error instanceof StartFailure && error.unresponsive ? await child.kill() : await child.stop(STOP_GRACE_MS);
        const newLines = Math.min(this.linesSeen - linesBefore, this.logTail.length);
        const portTaken = newLines > 0 && this.logTail.slice(-newLines).some((line) => PORT_TAKEN.test(line));
        if (!this.stopping.signal.aborted && attempt < PORT_ATTEMPTS && portTaken) {
          this.options.logger.info({ port }, 'llama-server found its port taken; starting it on another');
          continue;
        }
        throw error instanceof StartFailure ? new StartFailure(error.message, exit, error.unresponsive) : error;
      } finally {
        if (this.launching === child) this.launching = undefined;
      }
    }
  }

  private async waitUntilHealthy(child: GuardedProcess, baseUrl: string): Promise<void> {
    const deadline = Date.now() + this.options.readyTimeoutMs;
    let ended: ProcessExit | undefined;
    void child.exited.then((exit) => (ended = exit));
    for (let pause = 50; ; pause = Math.min(pause * 2, 500)) {
      if (this.stopping.signal.aborted) throw new StartFailure('stopped while starting');
      if (ended) throw new StartFailure(`it exited while starting (${describeExit(ended)})`, ended);
      if (Date.now() > deadline) {
        const seconds = Number((this.options.readyTimeoutMs / 1000).toFixed(1));
        this.options.logger.error({ enginePid: child.pid, loadTimeoutSeconds: seconds }, 'llama-server did not become ready in time; killing it');
        throw new StartFailure(`it did not become ready within ${seconds} s (/health never answered 200); killed`, undefined, true);
      }
      const problem = await healthProblem(this.connection.client, baseUrl, START_REQUEST_TIMEOUT_MS, this.stopping.signal);
      // A 200 from a port another process took counts only while ours still runs.
      if (problem === undefined && child.running) return;
      await Promise.race([sleep(pause, this.stopping.signal), child.exited]);
    }
  }

  /** /props: the slot context and build; a server that does not answer it still serves. */
  private async readProperties(baseUrl: string): Promise<void> {
    try {
      const response = await fetch(`${baseUrl}/props`, {
        headers: this.connection.client.authorization,
        signal: AbortSignal.timeout(START_REQUEST_TIMEOUT_MS),
      });
      if (!response.ok) return void (await response.arrayBuffer());
      const props = (await response.json()) as {
        default_generation_settings?: { n_ctx?: unknown };
        total_slots?: unknown;
        build_info?: unknown;
        modalities?: { vision?: unknown };
      };
      const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
      this.propertiesNow = {
        slotContextLength: number(props.default_generation_settings?.n_ctx),
        totalSlots: number(props.total_slots),
        buildInfo: typeof props.build_info === 'string' ? props.build_info : undefined,
        vision: typeof props.modalities?.vision === 'boolean' ? props.modalities.vision : undefined,
      };
    } catch (error) {
      this.options.logger.debug({ err: error }, 'llama-server /props unreadable');
    }
  }

  /**
   * While `running` serves: /health every interval; after `failures` failed checks in a row the
   * process is alive but not answering (a deadlock, a stuck GPU driver), and every request sent to
   * it would wait forever. It is killed, and its exit takes the crash path. llama-server answers
   * /health from its HTTP threads without touching the model (server-context.cpp, get_health),
   * so a process generating on every slot passes; one late answer (the gateway's own event loop
   * held up, a loaded machine) is not enough to kill it.
   */
  private async watchLiveness(running: Running): Promise<void> {
    const { intervalMs, timeoutMs, failures } = this.options.liveness;
    const current = () => this.running === running && this.statusNow === 'serving';
    let failed = 0;
    while (current()) {
      await sleep(intervalMs, this.stopping.signal);
      if (!current()) return;
      const problem = await healthProblem(this.connection.client, running.baseUrl, timeoutMs, this.stopping.signal);
      if (!current()) return;
      if (problem === undefined) {
        failed = 0;
        continue;
      }
      failed++;
      this.options.logger.warn({ enginePid: running.process.pid, problem, failed, of: failures }, 'llama-server health check failed');
      if (failed < failures) continue;
      running.killedAsHung = `not answering: ${failed} health checks in a row failed, the last: ${problem}; killed`;
      this.options.logger.error({ enginePid: running.process.pid, problem, failed }, 'llama-server is not answering; killing it');
      await running.process.kill();
      return;
    }
  }

  private exitedWhileServing(running: Running, exit: ProcessExit): void {
    if (this.running !== running) return;
    this.running = undefined;
    if (this.statusNow !== 'serving') return;
    if (running.killedAsHung === undefined)
      this.options.logger.error({ exit: describeExit(exit), lastLines: this.logTail.slice(-5) }, 'llama-server exited unexpectedly');
    this.failed(running.killedAsHung ?? describeExit(exit), Date.now() - running.startedAt >= this.policy.stableMs);
  }

  /**
   * Counts a failure (a crash, a hung process killed, or a restart that did not serve), described
   * by `how` when known, then restarts after the backoff or gives up.
   */
  private failed(how: string | undefined, afterStableRun: boolean): void {
    const now = Date.now();
    if (how !== undefined) this.lastFailure = how;
    if (afterStableRun) this.failuresInARow = 0;
    this.failuresInARow++;
    this.failures = [...this.failures.filter((at) => now - at < this.policy.windowMs), now];
    const exitText = this.lastFailure ?? 'no exit status';
    if (this.failures.length >= this.policy.maxFailures) {
      if (!this.move('failed')) return;
      const minutes = Math.round(this.policy.windowMs / 60_000);
      const summary = `its engine process failed ${this.failures.length} times within ${minutes} minutes (last: ${exitText})`;
      this.options.logger.error(
        { failures: this.failures.length, exit: exitText },
        'llama-server keeps failing; the model is unavailable until it is loaded again',
      );
      this.report({ status: 'failed', summary, reason: `${summary}; not restarted again until the model is loaded again`, logTail: [...this.logTail] });
      return;
    }
    const delay = Math.min(this.policy.firstDelayMs * 2 ** (this.failuresInARow - 1), this.policy.maxDelayMs);
    if (this.statusNow === 'serving' && !this.move('restarting')) return;
    if (this.statusNow !== 'restarting') return;
    this.retryAt = now + delay;
    this.report({
      status: 'restarting',
      reason: `its engine process stopped (${exitText}); restart ${this.failuresInARow} in ${(delay / 1000).toFixed(1)} s`,
      retryAfterMs: delay,
    });
    this.restartTimer = setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    this.restartTimer = undefined;
    if (this.statusNow !== 'restarting') return;
    try {
      await this.launch();
    } catch (error) {
      if (this.statusNow !== 'restarting') return;
      this.options.logger.error({ reason: error instanceof Error ? error.message : String(error) }, 'llama-server restart failed');
      const how = error instanceof StartFailure ? (error.unresponsive ? error.message : error.exit && describeExit(error.exit)) : undefined;
      this.failed(how, false);
      return;
    }
    this.options.logger.info({ enginePid: this.pid }, 'llama-server restarted');
    this.report({ status: 'serving' });
  }

  /** Stops the process (and any restart to come): SIGTERM, then SIGKILL after the grace. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.move('stopping');
      this.stopping.abort();
      clearTimeout(this.restartTimer);
      const processes = [this.running?.process, this.launching].filter((process): process is GuardedProcess => process !== undefined);
      this.running = undefined;
      await Promise.all(processes.map((process) => process.stop(STOP_GRACE_MS)));
      this.move('stopped');
    })();
    return this.stopped;
  }
}
