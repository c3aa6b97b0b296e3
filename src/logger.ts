// One pino logger for the process. JSON lines for machines; readable lines on a terminal.
import { pino, type Logger as PinoLogger } from 'pino';
import { environment } from './environment.js';

export type Logger = PinoLogger;
export type LogFormat = 'auto' | 'json' | 'pretty';

export function createLogger(options: { level?: string; format?: LogFormat } = {}): Logger {
  const level = environment.logLevel ?? options.level ?? 'info';
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  if (!pretty) return pino({ level, base: { service: 'switchyard' } });
  return pino({
    level,
    transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
  });
}

/** A logger that drops everything: for tests and in-process benchmarks. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
