// The switchyard command line: serve, validate.
import { Command } from 'commander';
import { backendFactories } from './backends/index.js';
import { ConfigError, loggingSettingsOf, readConfigSource } from './config/load-config.js';
import { environment } from './environment.js';
import { createLogger, createSilentLogger, type Logger } from './logger.js';
import { parseConfigWithPlugins } from './plugins/plugin-loader.js';
import { ModelRegistry } from './registry/model-registry.js';
import { startGateway, type Gateway } from './server/gateway.js';
import { ensureModelFile } from './download/ensure-model-file.js';
import { pullCommand } from './download/pull-command.js';
import path from 'node:path';

const DEFAULT_CONFIG = 'config.toml';

function configPath(option: string | undefined): string {
  return option ?? environment.configPath ?? DEFAULT_CONFIG;
}

function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`config error${error.problems.length > 1 ? 's' : ''}:\n${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

/** The config file's text and the process logger, made from its [logging] table before plugins load. */
async function sourceAndLogger(file: string, makeLogger: (settings: ReturnType<typeof loggingSettingsOf>) => Logger) {
  const source = await readConfigSource(file).catch(exitOnConfigError);
  return { source, logger: makeLogger(loggingSettingsOf(source)) };
}

/** Loads the plugins, then validates the config with what they add. */
async function loadOrExit(file: string, source: string, logger: Logger) {
  return parseConfigWithPlugins(source, file, logger).catch(exitOnConfigError);
}

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows)
    process.stdout.write(
      `${row
        .map((cell, column) => cell.padEnd(widths[column]))
        .join('  ')
        .trimEnd()}\n`,
    );
}

const program = new Command().name('switchyard').description('Local models behind one OpenAI-compatible API.').showHelpAfterError();

program
  .command('serve')
  .description('Start the gateway.')
  .option('-c, --config <path>', `config file (default: $SWITCHYARD_CONFIG or ./${DEFAULT_CONFIG})`)
  .option('-a, --address <host:port>', 'listen address, overriding [api] address and $SWITCHYARD_ADDRESS')
  .action(async (options: { config?: string; address?: string }) => {
    const file = configPath(options.config);
    const { source, logger } = await sourceAndLogger(file, (settings) => createLogger(settings));
    const { loaded, plugins } = await loadOrExit(file, source, logger);
    // Signals are handled from the start: a SIGHUP or SIGTERM during model loading must not
    // kill the process with the default action.
    let gateway: Gateway | undefined;
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      if (!gateway) process.exit(0);
      logger.info({ signal, graceSeconds: gateway.state.config().api.shutdown_grace }, 'shutting down: finishing requests in flight');
      gateway.close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      if (!gateway) return;
      logger.info('SIGHUP: reloading the config');
      gateway.reload().catch(() => undefined);
    });
    gateway = await startGateway({
      loaded,
      logger,
      address: options.address ?? environment.address,
      plugins,
      prepareModel: (entry, log) =>
        ensureModelFile({ path: entry.resolvedPath, source: entry.config.source!, sha256: entry.config.sha256, logger: log.child({ model: entry.id }) }),
    }).catch((error: unknown) => {
      // A config that validated but cannot be put to use (an address, the response store's file).
      if (error instanceof ConfigError) exitOnConfigError(error);
      logger.fatal({ err: error }, 'cannot start');
      process.exit(1);
    });
  });

program
  .command('pull')
  .description('Download a model file: resumable, checked against --sha256, moved into place atomically.')
  .argument('<url>', 'http or https URL of the file')
  .option('--to <dir>', 'folder (or file path) to write to', '.')
  .option('--sha256 <hex>', 'expected SHA-256 of the file')
  .action(async (url: string, options: { to?: string; sha256?: string }) => {
    process.exitCode = await pullCommand(url, options, createLogger());
  });

program
  .command('validate')
  .description('Check a config file and print the models it resolves to; exits non-zero on errors.')
  .option('-c, --config <path>', `config file (default: $SWITCHYARD_CONFIG or ./${DEFAULT_CONFIG})`)
  .action(async (options: { config?: string }) => {
    const file = configPath(options.config);
    const { source, logger } = await sourceAndLogger(file, () => createSilentLogger());
    const { loaded, plugins } = await loadOrExit(file, source, logger);
    await plugins.close();
    const registry = await ModelRegistry.create({
      config: loaded.config,
      baseDirectory: path.dirname(loaded.file),
      logger: createSilentLogger(),
      factories: { ...backendFactories, ...plugins.backendFactories() },
    });
    process.stdout.write(`${file}: valid; listening address ${loaded.config.api.address}\n\n`);
    const rows = [['ID', 'TYPE', 'BACKEND', 'PATH', 'FILE']];
    for (const entry of registry.list()) {
      rows.push([entry.id, entry.type, entry.backend ?? '-', entry.resolvedPath || '-', entry.status === 'unavailable' ? `missing: ${entry.reason}` : 'ok']);
    }
    if (rows.length === 1) process.stdout.write('no models configured\n');
    else printTable(rows);
  });

await program.parseAsync(process.argv);
