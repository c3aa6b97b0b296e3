// What `npm test` runs (after the build): every *.test.js under dist/test, or under the folders
// and files given, one file at a time. Node 20's `node --test FOLDER` takes every .js under a
// folder named test as a test file, helpers and fixtures included, and its --test takes no glob
// (Node 21's does): so the list is made here. Arguments starting with "-" go to node (e.g.
// --test-name-pattern=...).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TEST_FILE = /\.test\.js$/;

/** The test files under `target` (a folder, searched recursively, or one file), sorted. */
export function testFiles(target: string): string[] {
  if (!statSync(target).isDirectory()) return TEST_FILE.test(target) ? [target] : [];
  return readdirSync(target, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && TEST_FILE.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

function main(args: string[]): number {
  const nodeOptions = args.filter((arg) => arg.startsWith('-'));
  const targets = args.filter((arg) => !arg.startsWith('-'));
  const files = (targets.length > 0 ? targets : ['dist/test']).flatMap(testFiles);
  if (files.length === 0) {
    console.error(`no *.test.js files under ${targets.join(', ') || 'dist/test'}`);
    return 1;
  }
  const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...nodeOptions, ...files], { stdio: 'inherit' });
  return run.status ?? 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(main(process.argv.slice(2)));
