// The layers' import rules, checked on every import of the TypeScript sources (src/ and plugins/),
// type-only ones included: engines know nothing of HTTP, routes or the OpenAI wire; wire modules
// and limits know nothing of Koa; the server sits on top (it mounts the routes), the request
// helpers (src/http/) below both the server and the routes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

// Tests run from the repository root.
const root = process.cwd();

interface Import {
  /** The importing file, relative to the repository root (src/api/openai/models.ts). */
  file: string;
  /** As written: '../../server/app.js', 'koa'. */
  specifier: string;
  /** A relative import's target, relative to the repository root, with its .ts name; undefined for a package. */
  target?: string;
}

function sourceFiles(directory: string): string[] {
  return readdirSync(path.join(root, directory), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(c|m)?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

// The import forms the sources use, each anchored at the start of a line so that text in strings
// and comments is not taken for an import: `import a, { b } from 'x'`, `import type * as c from
// 'x'`, `import 'x'`, `export { d } from 'x'`, `export * from 'x'`; and `import('x')`, `require('x')`
// wherever they are.
const STATIC_IMPORT = /^[ \t]*import\s+(?:type\s+)?(?:[\w$]+\s*,?\s*)?(?:\{[^}]*\}\s*|\*\s*as\s+[\w$]+\s*)?from\s*(['"])([^'"\n]+)\1/gm;
const SIDE_EFFECT_IMPORT = /^[ \t]*import\s*(['"])([^'"\n]+)\1/gm;
const RE_EXPORT = /^[ \t]*export\s+(?:type\s+)?(?:\{[^}]*\}|\*(?:\s*as\s+[\w$]+)?)\s*from\s*(['"])([^'"\n]+)\1/gm;
const CALL = /\b(?:import|require)\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

function specifiersOf(text: string): string[] {
  return [STATIC_IMPORT, SIDE_EFFECT_IMPORT, RE_EXPORT, CALL].flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[2]));
}

function importsOf(file: string): Import[] {
  return specifiersOf(readFileSync(path.join(root, file), 'utf8')).map((specifier) => {
    if (!specifier.startsWith('.')) return { file, specifier };
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
    return { file, specifier, target: resolved.replace(/\.(c|m)?js$/, (extension) => extension.replace('js', 'ts')) };
  });
}

const allImports = [...sourceFiles('src'), ...sourceFiles('plugins')].flatMap(importsOf);

const under =
  (...folders: string[]) =>
  (file: string | undefined) =>
    file !== undefined && folders.some((folder) => file.startsWith(`${folder}/`));
const koa = (imported: Import) => imported.target === undefined && /^(koa|koa-.+|@koa\/.+)$/.test(imported.specifier);
const into =
  (...folders: string[]) =>
  (imported: Import) =>
    under(...folders)(imported.target);

interface ImportRule {
  name: string;
  importer: (file: string) => boolean;
  forbidden: (imported: Import) => boolean;
  /** Set while the code does not follow the rule yet: the rule is reported, not enforced. */
  todo?: string;
}

const rules: ImportRule[] = [
  {
    name: 'engines (src/backends/) never import the server, the request helpers, the routes or the wire modules',
    importer: under('src/backends'),
    forbidden: into('src/server', 'src/http', 'src/api', 'src/openai'),
  },
  { name: 'engines never import Koa', importer: under('src/backends', 'src/engine'), forbidden: koa },
  { name: 'wire modules (src/openai/, src/anthropic/) never import Koa', importer: under('src/openai', 'src/anthropic'), forbidden: koa },
  {
    name: 'wire modules never import the server, the request helpers or the routes',
    importer: under('src/openai', 'src/anthropic'),
    forbidden: into('src/server', 'src/http', 'src/api'),
  },
  {
    name: 'config (src/config/) never imports the server, the request helpers or the routes',
    importer: under('src/config'),
    forbidden: into('src/server', 'src/http', 'src/api'),
  },
  { name: 'routes (src/api/) never import the server (the server mounts the routes)', importer: under('src/api'), forbidden: into('src/server') },
  { name: 'request helpers (src/http/) never import the server or the routes', importer: under('src/http'), forbidden: into('src/server', 'src/api') },
  { name: 'limits (src/limits/) never import Koa', importer: under('src/limits'), forbidden: koa },
  {
    name: 'limits never import the server, the request helpers or the routes',
    importer: under('src/limits'),
    forbidden: into('src/server', 'src/http', 'src/api'),
  },
  {
    name: 'plugins reach the gateway through the plugin API, never through the server, the request helpers or the routes',
    importer: under('plugins'),
    forbidden: into('src/server', 'src/http', 'src/api'),
  },
  {
    name: 'routes reach engines only through the model-call API (never the engines, the registry or the scheduler)',
    importer: under('src/api'),
    forbidden: into('src/backends', 'src/registry', 'src/scheduler'),
  },
];

describe('import rules', () => {
  test('every import statement of the sources is read', () => {
    assert.ok(allImports.some((imported) => imported.file === 'src/server/app.ts' && imported.specifier === 'koa'));
    assert.ok(allImports.some((imported) => imported.file.startsWith('plugins/')));
    // Each line that begins an import statement must have given one import, whatever its form
    // (multi-line braces, type-only, default plus names): otherwise the rules below would miss it.
    for (const file of sourceFiles('src').concat(sourceFiles('plugins'))) {
      const statements = readFileSync(path.join(root, file), 'utf8').match(/^import[\s{'"*]/gm)?.length ?? 0;
      const found = allImports.filter((imported) => imported.file === file && !/\bimport\s*\(|require/.test(imported.specifier)).length;
      assert.ok(found >= statements, `${file}: ${statements} import statements, ${found} read`);
    }
  });

  for (const rule of rules) {
    test(rule.name, { todo: rule.todo }, () => {
      const broken = allImports.filter((imported) => rule.importer(imported.file) && rule.forbidden(imported));
      const report = broken.map(({ file, specifier, target }) => `  ${file} imports '${specifier}'${target ? ` (${target})` : ''}`).join('\n');
      assert.equal(broken.length, 0, `${broken.length} import${broken.length === 1 ? '' : 's'} break the rule:\n${report}`);
    });
  }
});
