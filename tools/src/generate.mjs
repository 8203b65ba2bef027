// @ts-check
/**
 * The new-modality generator as plain functions, shared by the Nx generator
 * (`nx g @d2v/tools:modality`, which writes through Nx's Tree) and the
 * `d2v-new-modality` command (which writes with fs). Plain JS on purpose:
 * Nx loads generators with require() and Node 20 cannot load .ts files.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folder names of d2v's own packages: a new modality may not take them. */
export const RESERVED_NAMES = Object.freeze(['core', 'vision', 'speech', 'text', 'tools']);

const NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
/** Keeps package and folder names readable; npm allows longer. */
const MAX_NAME_LENGTH = 40;

export const TEMPLATE_DIR = fileURLToPath(new URL('../generators/modality/files/', import.meta.url));

/** A problem with the generator's input; the message says what to change. */
export class GeneratorError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'GeneratorError';
  }
}

/**
 * @typedef {object} PlannedFile
 * @property {string} path Workspace-relative, '/'-separated.
 * @property {string} content
 */

/**
 * @typedef {object} ModalityPlan
 * @property {string} name Modality name (also the Nx project name).
 * @property {string} packageName `@d2v/<name>`.
 * @property {string} packageDir Workspace-relative folder of the package.
 * @property {PlannedFile[]} files
 * @property {string[]} notes What the author should do next (printed after writing).
 */

/**
 * @typedef {object} PlanOptions
 * @property {string} name
 * @property {string} root Workspace root (absolute).
 * @property {string} [dir] Folder for the package, relative to root (default 'packages').
 * @property {string} [description]
 * @property {(path: string) => boolean} [exists] Whether a workspace-relative path exists (default: on disk).
 */

/** A name close to an invalid one that would pass, for the error message. */
function suggestName(/** @type {string} */ name) {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '');
  return NAME_PATTERN.test(s) && !RESERVED_NAMES.includes(s) ? s : undefined;
}

/**
 * Throws a GeneratorError naming the problem when `name` cannot be a modality name.
 * @param {unknown} name
 * @returns {asserts name is string}
 */
export function validateModalityName(name) {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new GeneratorError('a modality name is required, e.g. `d2v-new-modality sensors`');
  }
  if (!NAME_PATTERN.test(name)) {
    const hint = suggestName(name);
    throw new GeneratorError(
      `invalid modality name '${name}': use lower-case letters, digits and single dashes, starting with a letter` +
        (hint ? ` (e.g. '${hint}')` : ''),
    );
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new GeneratorError(`modality name '${name}' is ${name.length} characters long; keep it to ${MAX_NAME_LENGTH} or fewer`);
  }
  if (RESERVED_NAMES.includes(name)) {
    throw new GeneratorError(`modality name '${name}' is reserved for d2v's own packages (${RESERVED_NAMES.join(', ')}); choose another name`);
  }
}

/** Normalises --dir to a '/'-separated path inside the workspace, or throws. */
function workspaceDir(/** @type {string} */ dir) {
  if (typeof dir !== 'string' || dir.trim() === '') throw new GeneratorError('--dir must name a folder inside the workspace (e.g. packages)');
  const norm = posix.normalize(dir.replaceAll('\\', '/')).replace(/\/+$/, '');
  if (isAbsolute(dir) || norm === '.' || norm === '..' || norm.startsWith('../')) {
    throw new GeneratorError(`--dir '${dir}' must be a folder inside the workspace, given relative to its root (e.g. packages)`);
  }
  return norm;
}

/**
 * @param {string} description
 * @param {string} name
 */
function checkDescription(description, name) {
  const d = description ?? `data2vec for ${name}: generated example on synthetic multichannel time series`;
  if (typeof d !== 'string' || /[\u0000-\u001f]/.test(d)) throw new GeneratorError('--description must be a single line of text');
  return d.trim();
}

/**
 * Versions the generated package depends on: those of the @d2v/core the
 * workspace resolves (falling back to the one next to these tools).
 * @param {string} root
 */
export function coreVersions(root) {
  const tries = [join(root, 'package.json'), fileURLToPath(import.meta.url)];
  for (const from of tries) {
    try {
      const file = createRequire(from).resolve('@d2v/core/package.json');
      /** @type {{ version: string, dependencies?: Record<string, string>, devDependencies?: Record<string, string> }} */
      const meta = JSON.parse(readFileSync(file, 'utf8'));
      const deps = { ...meta.devDependencies, ...meta.dependencies };
      return { core: meta.version, tfjsCore: deps['@tensorflow/tfjs-core'] ?? '4.22.0', tsx: deps['tsx'] ?? '4.23.15' };
    } catch {
      // Not resolvable from here: try the next location.
    }
  }
  throw new GeneratorError(`cannot find @d2v/core from ${root}: install the workspace's dependencies (npm install) first`);
}

/**
 * Replaces `__key__` tokens; an unknown token is an error in the template, not the input.
 * @param {string} text
 * @param {Record<string, string>} vars
 * @param {string} file
 */
export function renderTemplate(text, vars, file) {
  return text.replace(/__([a-zA-Z]+)__/g, (match, key) => {
    if (!(key in vars)) throw new Error(`template ${file}: unknown token ${match}`);
    return /** @type {string} */ (vars[key]);
  });
}

/** Every template file below dir, as '/'-separated relative paths, sorted. */
function listTemplates(/** @type {string} */ dir, prefix = '') {
  /** @type {string[]} */
  const out = [];
  for (const entry of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${entry}` : entry;
    if (statSync(join(dir, rel)).isDirectory()) out.push(...listTemplates(dir, rel));
    else if (entry.endsWith('.tmpl')) out.push(rel);
  }
  return out;
}

/**
 * Whether the root package.json's npm workspaces cover `<dir>/<name>`
 * (only the plain `folder/*` and exact-path forms are recognised).
 * @param {string} root
 * @param {string} packageDir
 */
function coveredByWorkspaces(root, packageDir) {
  try {
    /** @type {{ workspaces?: string[] | { packages?: string[] } }} */
    const meta = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const ws = Array.isArray(meta.workspaces) ? meta.workspaces : (meta.workspaces?.packages ?? []);
    const parent = posix.dirname(packageDir);
    return ws.some((w) => w === packageDir || w === `${parent}/*` || w === `./${parent}/*`);
  } catch {
    return false;
  }
}

/** The package.json of the new modality. */
function packageJson(
  /** @type {string} */ name,
  /** @type {string} */ description,
  /** @type {string} */ up,
  /** @type {{ core: string, tfjsCore: string, tsx: string }} */ v,
) {
  const runs = `${up}/runs/${name}`;
  const pkg = {
    name: `@d2v/${name}`,
    version: '0.1.0',
    description,
    type: 'module',
    license: 'MIT',
    main: './src/index.ts',
    types: './src/index.ts',
    exports: { '.': './src/index.ts', './package.json': './package.json' },
    nx: { name },
    scripts: {
      test: 'vitest run',
      typecheck: 'tsc -p tsconfig.json --noEmit',
      'make-data': 'tsx scripts/make-example-data.ts --data.path data',
      pretrain: `d2v pretrain --modality ${name} --out ${runs}/pretrain`,
      'pretrain-v2': `d2v pretrain --modality ${name} --preset tiny-v2 --out ${runs}/pretrain-v2`,
      finetune: `d2v finetune --modality ${name} --init ${runs}/pretrain --out ${runs}/finetune`,
      eval: `d2v eval --modality ${name} --task probe --init ${runs}/pretrain --out ${runs}/eval`,
      predict: `d2v predict --init ${runs}/finetune`,
      embed: `d2v embed --init ${runs}/pretrain --out ${runs}/embeddings.safetensors`,
    },
    dependencies: { '@tensorflow/tfjs-core': v.tfjsCore },
    // One @d2v/core serves every modality of a project: the d2v command's registry must see this one's registration.
    peerDependencies: { '@d2v/core': `^${v.core}` },
    devDependencies: { '@d2v/core': v.core, tsx: v.tsx },
    d2v: { modality: true },
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

/** tsconfig.json: the workspace's base config when there is one, else the same settings inline. */
function tsconfigJson(/** @type {string} */ root, /** @type {string} */ up) {
  const include = ['src/**/*.ts', 'test/**/*.ts', 'scripts/**/*.ts'];
  if (existsSync(join(root, 'tsconfig.base.json'))) {
    return JSON.stringify({ extends: `${up}/tsconfig.base.json`, compilerOptions: { noEmit: true }, include }, null, 2) + '\n';
  }
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022'],
    types: ['node'],
    strict: true,
    noImplicitOverride: true,
    esModuleInterop: true,
    skipLibCheck: true,
    isolatedModules: true,
    noEmit: true,
  };
  return JSON.stringify({ compilerOptions, include }, null, 2) + '\n';
}

/** vitest.config.ts: the workspace's shared base when there is one. */
function vitestConfig(/** @type {string} */ root, /** @type {string} */ up) {
  if (existsSync(join(root, 'vitest.base.ts'))) return `export { default } from '${up}/vitest.base.js';\n`;
  return [
    "import { defineConfig } from 'vitest/config';",
    '',
    'export default defineConfig({',
    '  test: {',
    "    include: ['test/**/*.test.ts'],",
    '    testTimeout: 120_000,',
    '    // tfjs backends are process-global singletons: one worker per file keeps them isolated.',
    "    pool: 'forks',",
    '    fileParallelism: false,',
    '  },',
    '});',
    '',
  ].join('\n');
}

/**
 * Validates the input and computes every file of the new package; writes nothing.
 * @param {PlanOptions} o
 * @returns {ModalityPlan}
 */
export function planModality(o) {
  validateModalityName(o.name);
  const name = o.name;
  const dir = workspaceDir(o.dir ?? 'packages');
  const exists = o.exists ?? ((/** @type {string} */ p) => existsSync(join(o.root, p)));
  const packageDir = `${dir}/${name}`;
  if (exists(packageDir)) throw new GeneratorError(`${packageDir} already exists: choose another name or remove that folder`);
  if (existsSync(join(o.root, 'node_modules', '@d2v', name))) {
    throw new GeneratorError(`a package @d2v/${name} is already installed (node_modules/@d2v/${name}); choose another name`);
  }
  const description = checkDescription(/** @type {string} */ (o.description), name);
  const versions = coreVersions(o.root);
  const up = packageDir
    .split('/')
    .map(() => '..')
    .join('/');
  /** @type {Record<string, string>} */
  const vars = {
    name,
    description,
    descriptionLiteral: JSON.stringify(description),
    root: up,
    packageDir,
  };
  /** @type {PlannedFile[]} */
  const files = [
    { path: `${packageDir}/package.json`, content: packageJson(name, description, up, versions) },
    { path: `${packageDir}/tsconfig.json`, content: tsconfigJson(o.root, up) },
    { path: `${packageDir}/vitest.config.ts`, content: vitestConfig(o.root, up) },
  ];
  for (const rel of listTemplates(TEMPLATE_DIR)) {
    const text = readFileSync(join(TEMPLATE_DIR, rel), 'utf8');
    files.push({ path: `${packageDir}/${rel.slice(0, -'.tmpl'.length)}`, content: renderTemplate(text, vars, rel) });
  }
  const notes = [];
  if (!coveredByWorkspaces(o.root, packageDir)) {
    notes.push(`add "${dir}/*" to "workspaces" in ${join(o.root, 'package.json')} so npm and Nx see ${packageDir}`);
  }
  notes.push(
    `run \`npm install\` once to record @d2v/${name} in package-lock.json`,
    `try it: npx nx run ${name}:test, npx nx run ${name}:pretrain, or npx d2v pretrain --modality ${name}`,
    `then adapt ${packageDir}/src (see docs/extending.md)`,
  );
  return { name, packageName: `@d2v/${name}`, packageDir, files, notes };
}

/**
 * The relative form of `to` from `from`, '/'-separated (symlink targets).
 * @param {string} from
 * @param {string} to
 */
export function relativePosix(from, to) {
  return relative(from, to).split(/[\\/]/).join('/');
}
