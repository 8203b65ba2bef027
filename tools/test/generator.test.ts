/**
 * The modality generator end to end: it generates into a throw-away npm
 * workspace (its node_modules links to this checkout's installed packages, but
 * has its own @d2v scope, so linking the new package never touches the
 * checkout), and the generated package must type-check, pass its own tests,
 * pretrain by name through the d2v command (data2vec 1.0 and 2.0) and be an Nx project.
 */
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GeneratorError, planModality, runNewModality, validateModalityName } from '../src/index.mjs';

const TOOLS = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(TOOLS, '..');
const NODE_MODULES = join(REPO, 'node_modules');
const require = createRequire(import.meta.url);

/** Child processes must not inherit this vitest run's worker settings. */
const childEnv = Object.fromEntries(
  Object.entries({ ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NO_COLOR: '1', FORCE_COLOR: '0' }).filter(
    ([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS',
  ),
);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], cwd: string): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, args, { cwd, env: childEnv, maxBuffer: 32 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

const temps: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/** A minimal npm workspace in a temp folder, resolving every package the checkout has installed. */
function makeWorkspace(): string {
  const root = tempDir('d2v-tools-ws-');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'ws', private: true, type: 'module', workspaces: ['packages/*'] }, null, 2));
  for (const f of ['tsconfig.base.json', 'vitest.base.ts', 'vitest.setup.ts', 'nx.json']) copyFileSync(join(REPO, f), join(root, f));
  mkdirSync(join(root, 'packages'));
  const nm = join(root, 'node_modules');
  mkdirSync(join(nm, '@d2v'), { recursive: true });
  for (const entry of readdirSync(NODE_MODULES)) {
    if (entry === '@d2v' || (entry.startsWith('.') && entry !== '.bin')) continue;
    symlinkSync(join(NODE_MODULES, entry), join(nm, entry));
  }
  symlinkSync(join(REPO, 'packages', 'core'), join(nm, '@d2v', 'core'));
  symlinkSync(TOOLS, join(nm, '@d2v', 'tools'));
  return root;
}

function capture(argv: string[], cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runNewModality(argv, { cwd, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

let root: string;
let pkg: string;
let created: Run;

beforeAll(async () => {
  root = makeWorkspace();
  pkg = join(root, 'packages', 'sensors');
  created = await run([join(TOOLS, 'bin', 'd2v-new-modality.mjs'), 'sensors'], root);
});

// rmSync removes the node_modules links themselves, never what they point to.
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe('d2v-new-modality sensors', () => {
  it('creates @d2v/sensors, wired for npm, Nx and the d2v command, and links it', () => {
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    for (const f of ['package.json', 'tsconfig.json', 'vitest.config.ts', 'README.md', 'scripts/make-example-data.ts']) expect(existsSync(join(pkg, f))).toBe(true);
    for (const f of ['encoder', 'masking', 'data', 'head', 'inference', 'schema', 'modality', 'index']) expect(existsSync(join(pkg, 'src', `${f}.ts`))).toBe(true);
    const meta = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
    expect(meta).toMatchObject({ name: '@d2v/sensors', nx: { name: 'sensors' }, d2v: { modality: true }, exports: { '.': './src/index.ts' } });
    const coreVersion = JSON.parse(readFileSync(join(REPO, 'packages/core/package.json'), 'utf8')).version;
    expect(meta.peerDependencies['@d2v/core']).toBe(`^${coreVersion}`);
    expect(meta.devDependencies['@d2v/core']).toBe(coreVersion);
    expect(meta.dependencies['@d2v/core']).toBeUndefined();
    expect(meta.devDependencies.tsx).toBe(JSON.parse(readFileSync(join(REPO, 'packages/core/package.json'), 'utf8')).devDependencies.tsx);
    for (const cmd of ['pretrain', 'finetune', 'eval']) expect(meta.scripts[cmd]).toMatch(new RegExp(`^d2v ${cmd} --modality sensors `));
    expect(meta.scripts['pretrain-v2']).toMatch(/^d2v pretrain --modality sensors --preset tiny-v2 /);
    expect(meta.scripts['predict']).toBe('d2v predict --init ../../runs/sensors/finetune');
    expect(meta.scripts['embed']).toBe('d2v embed --init ../../runs/sensors/pretrain --out ../../runs/sensors/embeddings.safetensors');
    expect(Object.keys(meta.scripts)).toEqual(expect.arrayContaining(['test', 'typecheck']));
    expect(JSON.parse(readFileSync(join(pkg, 'tsconfig.json'), 'utf8')).extends).toBe('../../tsconfig.base.json');
    expect(readFileSync(join(pkg, 'src', 'modality.ts'), 'utf8')).toContain("name: 'sensors',");
    // No template token survives.
    for (const dir of ['src', 'test', 'scripts']) for (const f of readdirSync(join(pkg, dir))) expect(readFileSync(join(pkg, dir, f), 'utf8')).not.toMatch(/__[a-zA-Z]+__/);
    expect(readlinkSync(join(root, 'node_modules', '@d2v', 'sensors'))).toBe('../../packages/sensors');
    expect(created.stdout).toContain('linked');
  });

  it('type-checks as generated', async () => {
    const r = await run([require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], pkg);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('passes its own tests as generated', async () => {
    const r = await run([join(NODE_MODULES, 'vitest', 'vitest.mjs'), 'run'], pkg);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Tests\s+\d+ passed/);
    expect(r.stdout).not.toMatch(/failed/);
  });

  it('pretrains by name through the d2v command, as its Nx targets do', async () => {
    const out = tempDir('d2v-tools-run-');
    const r = await run([join(REPO, 'packages', 'core', 'bin', 'd2v.mjs'), 'pretrain', '--modality', 'sensors', '--steps', '4', '--train.logEvery', '1', '--out', out], pkg);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pretrained 4 steps; last loss \d/);
    const records = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const losses = records.filter((x) => typeof x.loss === 'number').map((x) => x.loss as number);
    expect(losses.length).toBeGreaterThanOrEqual(4);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({ modality: 'sensors', preset: 'tiny', data: { length: 64 } });
    // The run ends with the template's probe, pretrained vs random init.
    expect(r.stdout).toMatch(/probe \(accuracy on held-out data, frozen features\): pretrained \d+\.\d%, random init \d+\.\d%/);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({ modality: 'sensors', evaluation: 'probe', step: 4 });
  });

  it('pretrains with data2vec 2.0 as generated (--preset tiny-v2)', async () => {
    const out = tempDir('d2v-tools-run-');
    const r = await run([join(REPO, 'packages', 'core', 'bin', 'd2v.mjs'), 'pretrain', '--modality', 'sensors', '--preset', 'tiny-v2', '--steps', '4', '--train.logEvery', '1', '--out', out, '--no-summary'], pkg);
    expect(r.code, r.stderr).toBe(0);
    // Core built its data2vec 2.0 task; finishing means the masker gave every row of every copy the same masked count.
    expect(r.stderr).toContain('data2vec 2.0: 4 masks per sample, 2-layer 1d conv decoder x 64');
    expect(r.stdout).toMatch(/pretrained 4 steps; last loss \d/);
    const records = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const losses = records.filter((x) => typeof x.loss === 'number').map((x) => x.loss as number);
    expect(losses.length).toBeGreaterThanOrEqual(4);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({ preset: 'tiny-v2', objective: { version: 2, clones: 4 }, masking: { ratio: 0.5 } });
  });

  it('embeds through the d2v command; predict on a pretraining run says there is no head', async () => {
    const out = tempDir('d2v-tools-run-');
    const d2v = join(REPO, 'packages', 'core', 'bin', 'd2v.mjs');
    expect((await run([d2v, 'pretrain', '--modality', 'sensors', '--steps', '2', '--out', out], pkg)).code).toBe(0);
    const file = join(tempDir('d2v-tools-in-'), 'inputs.jsonl');
    const series = JSON.stringify({ values: Array.from({ length: 64 }, (_, t) => [Math.sin(t / 3), Math.cos(t / 5), 0.1]) });
    writeFileSync(file, `${series}\n{"values": "none"}\n${series}\n`);
    const target = join(out, 'e.safetensors');
    const r = await run([d2v, 'embed', '--init', out, '--input', file, '--out', target], pkg);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('embedded 2 input(s): mean-pooled features of the last block, [2, 64]; skipped 1');
    expect(r.stderr).toContain(`d2v: skipped ${file}:2: values must hold 64 steps`);
    expect(existsSync(target)).toBe(true);
    const p = await run([d2v, 'predict', '--init', out, '--input', file], pkg);
    expect(p.code).toBe(4); // EXIT.checkpoint
    expect(p.stderr.trim().split('\n').at(-1)).toMatch(/^d2v: CheckpointError: .*has no fine-tuned head to predict with \(a pretraining checkpoint, step 2; sensors predicts with: classify\)/);
  });

  it('is discovered by `d2v info` as an installed modality package', async () => {
    const r = await run([join(REPO, 'packages', 'core', 'bin', 'd2v.mjs'), 'info', '--modality', 'sensors'], root);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('installed modality packages: sensors');
    expect(r.stdout).toContain('presets: tiny, tiny-v2, paper-base (default tiny)');
    expect(r.stdout).toContain('evaluations: probe, raw; finetune: yes');
  });

  it('is an Nx project whose targets are its scripts', async () => {
    const r = await run([require.resolve('nx/bin/nx.js'), 'show', 'project', 'sensors', '--json'], root);
    expect(r.code, r.stderr).toBe(0);
    const project = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    expect(project.root).toBe('packages/sensors');
    expect(Object.keys(project.targets)).toEqual(expect.arrayContaining(['pretrain', 'pretrain-v2', 'finetune', 'eval', 'test', 'typecheck']));
  });
});

describe('nx g @d2v/tools:modality', () => {
  it('writes exactly what the plain command writes, through an Nx Tree', async () => {
    const { FsTree, flushChanges } = require('nx/src/generators/tree') as typeof import('nx/src/generators/tree');
    const generator = require('../generators/modality/generator.cjs') as (tree: unknown, o: object) => Promise<() => Promise<void>>;
    const other = makeWorkspace();
    const tree = new FsTree(other, false);
    const after = await generator(tree, { name: 'sensors', link: false });
    flushChanges(other, tree.listChanges());
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    await after();
    const printed = log.mock.calls.flat().join('\n');
    log.mockRestore();
    expect(printed).toContain("new modality 'sensors' (@d2v/sensors) in packages/sensors");
    const files = tree.listChanges().map((c) => c.path);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(readFileSync(join(other, f), 'utf8'), f).toBe(readFileSync(join(root, f), 'utf8'));
    expect(existsSync(join(other, 'node_modules', '@d2v', 'sensors'))).toBe(false);
  });

  it('runs from the nx command (dry run writes nothing)', async () => {
    const r = await run([require.resolve('nx/bin/nx.js'), 'g', '@d2v/tools:modality', 'gauges', '--dry-run'], root);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('CREATE packages/gauges/src/modality.ts');
    expect(r.stdout).toContain('CREATE packages/gauges/test/pretrain.test.ts');
    expect(existsSync(join(root, 'packages', 'gauges'))).toBe(false);
  });

  it('refuses an existing and an invalid name with the same messages', async () => {
    const generator = require('../generators/modality/generator.cjs') as (tree: unknown, o: object) => Promise<unknown>;
    const { FsTree } = require('nx/src/generators/tree') as typeof import('nx/src/generators/tree');
    const tree = new FsTree(root, false);
    await expect(generator(tree, { name: 'sensors' })).rejects.toThrow('packages/sensors already exists');
    await expect(generator(tree, { name: 'Bad_Name' })).rejects.toThrow(/invalid modality name 'Bad_Name'.*e\.g\. 'bad-name'/);
    expect(tree.listChanges()).toEqual([]);
  });
});

describe('name checks', () => {
  it('refuses an existing package folder', () => {
    const r = capture(['sensors'], root);
    expect(r.code).toBe(1);
    expect(r.err).toBe('d2v-new-modality: packages/sensors already exists: choose another name or remove that folder');
  });

  it('refuses invalid names, saying what is allowed', () => {
    for (const bad of ['Sensors', 'my_modality', '9lives', 'trailing-', 'two--dashes', 'has space']) {
      const r = capture([bad], root);
      expect(r.code, bad).toBe(1);
      expect(r.err).toContain(`invalid modality name '${bad}': use lower-case letters, digits and single dashes, starting with a letter`);
    }
    expect(capture(['My_Sensors'], root).err).toContain("(e.g. 'my-sensors')");
    expect(capture([], root).err).toContain('a modality name is required');
    expect(capture(['x'.repeat(41)], root).err).toContain('keep it to 40 or fewer');
  });

  it('refuses the reserved names and an installed @d2v package', () => {
    for (const name of ['core', 'vision', 'speech', 'text', 'tools']) {
      expect(() => validateModalityName(name)).toThrow(GeneratorError);
      expect(capture([name], root).err).toContain(`modality name '${name}' is reserved for d2v's own packages`);
    }
    mkdirSync(join(root, 'node_modules', '@d2v', 'legacy'));
    expect(capture(['legacy'], root).err).toContain('a package @d2v/legacy is already installed (node_modules/@d2v/legacy)');
  });

  it('--dry-run lists the files and writes nothing', () => {
    const r = capture(['fresh', '--dry-run'], root);
    expect(r.code).toBe(0);
    expect(r.out).toContain('would create packages/fresh/src/modality.ts');
    expect(existsSync(join(root, 'packages', 'fresh'))).toBe(false);
  });

  it('keeps --dir inside the workspace and reports usage errors with exit code 2', () => {
    expect(capture(['ok-name', '--dir', '../elsewhere'], root).err).toContain("--dir '../elsewhere' must be a folder inside the workspace");
    const r = capture(['ok-name', '--frobnicate'], root);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown option --frobnicate');
    expect(r.err).toContain('usage: d2v-new-modality <name>');
    expect(existsSync(join(root, 'packages', 'ok-name'))).toBe(false);
  });

  it('notes a --dir the npm workspaces do not cover, and quotes descriptions safely', () => {
    const plan = planModality({ name: 'extra', root, dir: 'plugins', description: `Bob's "sensor" data` });
    expect(plan.packageDir).toBe('plugins/extra');
    expect(plan.notes[0]).toContain('add "plugins/*" to "workspaces"');
    const modality = plan.files.find((f) => f.path === 'plugins/extra/src/modality.ts')!.content;
    expect(modality).toContain(`description: "Bob's \\"sensor\\" data",`);
    expect(plan.files.find((f) => f.path === 'plugins/extra/package.json')!.content).toContain('"pretrain": "d2v pretrain --modality extra --out ../../runs/extra/pretrain"');
  });
});
