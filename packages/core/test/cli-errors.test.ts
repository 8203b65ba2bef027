import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend, runCli, registerModality, EXIT, BackendError, registerBackend } from '../src/index.js';
import { describeFailure } from '../src/cli/failure.js';
import { tempDir } from '../src/testing.js';
import { modality as toy } from './fixtures/toy-modality.js';

const TOY = resolve(__dirname, 'fixtures/toy-modality.ts');

/** Runs the d2v command in-process: its exit code and what it printed. */
async function d2v(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const [ol, oe] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  const exitCode = process.exitCode;
  try {
    const code = await runCli(argv);
    return { code, out, err };
  } finally {
    console.log = ol;
    console.error = oe;
    process.exitCode = exitCode;
  }
}

/** The failure lines, without the line a run logs when it starts. */
const failureLines = (err: string[]) => err.filter((l) => !/^d2v: (pretrain|finetune) \S+ \(preset/.test(l));

beforeAll(async () => {
  await initBackend('wasm');
});

describe('rejected option values: one line naming the option, exit 2, nothing written', () => {
  const cases: [string[], RegExp][] = [
    [['--optim.lr', '-1'], /option optim\.lr must be > 0, got -1/],
    [['--train.checkpointEvery', '0'], /option train\.checkpointEvery must be >= 1, got 0/],
    [['--train.logEvery', '0'], /option train\.logEvery must be >= 1, got 0/],
    [['--model.dropout', '1.5'], /option model\.dropout must be in \[0, 1\), got 1\.5/],
    [['--optim.phaseRatios', '0.5,0.5,0.5'], /optim\.phaseRatios must be three fractions .* summing to 1/],
    [['--resume', '--overwrite'], /--resume continues the run in --out and --overwrite replaces it/],
  ];
  for (const [flags, message] of cases) {
    it(flags.join(' '), async () => {
      const out = join(tempDir('cli-bad'), 'run');
      const r = await d2v('pretrain', '--modality', TOY, '--out', out, '--steps', '2', ...flags);
      expect(r.code).toBe(EXIT.usage);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
      expect(r.err[0]).not.toMatch(/ProgressBar|plainEvery/);
      expect(existsSync(out)).toBe(false);
    });
  }

  it('--stop-after abc is refused instead of training nothing and exiting 0', async () => {
    const out = join(tempDir('cli-bad'), 'run');
    const r = await d2v('pretrain', '--modality', TOY, '--out', out, '--steps', '2', '--stop-after', 'abc');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toEqual([`d2v: ConfigError: --stop-after expects a whole number of updates >= 1, got "abc"`]);
    expect(existsSync(out)).toBe(false);
  });

  it('--out with no value is refused instead of training into a folder named "true"', async () => {
    const cwd = tempDir('cli-cwd');
    const before = process.cwd();
    process.chdir(cwd);
    try {
      const r = await d2v('pretrain', '--modality', TOY, '--steps', '2', '--out');
      expect(r.code).toBe(EXIT.usage);
      expect(r.err).toEqual(['d2v: ConfigError: command line: option out needs a value (--out VALUE)']);
      expect(existsSync(join(cwd, 'true'))).toBe(false);
      const m = await d2v('pretrain', '--steps', '2', '--modality');
      expect(m.err).toEqual(['d2v: ConfigError: --modality needs a value (modality name (vision, speech, text) or path of a plugin package/file)']);
    } finally {
      process.chdir(before);
    }
  });
});

describe('the d2v command', () => {
  it('--version prints the version, not the help', async () => {
    const r = await d2v('--version');
    expect(r.code).toBe(EXIT.ok);
    const { version } = JSON.parse(readFileSync(resolve(__dirname, '../package.json'), 'utf8')) as { version: string };
    expect(r.out).toEqual([`d2v ${version}`]);
    // A switch never swallows the command after it.
    expect((await d2v('--verbose', 'pretrian')).err[0]).toContain("unknown command 'pretrian'");
  });

  it('a misspelt --modality gets "did you mean"; a package that is not a d2v modality is never imported', async () => {
    const typo = await d2v('pretrain', '--modality', 'vison');
    expect(typo.code).toBe(EXIT.environment);
    expect(typo.err).toHaveLength(1);
    expect(typo.err[0]).toMatch(/modality 'vison' is not installed; did you mean 'vision'\?; installed modalities: .*vision/);
    const other = await d2v('pretrain', '--modality', 'semver');
    expect(other.code).toBe(EXIT.environment);
    expect(other.err).toHaveLength(1);
    expect(other.err[0]).toMatch(/package semver is not a d2v modality \(its package\.json does not declare "d2v": \{ "modality": true \}\)/);
    const core = await d2v('pretrain', '--modality', 'core');
    expect(core.err[0]).toMatch(/package @d2v\/core is not a d2v modality/);
  });

  it('an error that is not d2v own prints two short lines and exit 1; --verbose adds the stack', async () => {
    registerModality({
      ...toy,
      name: 'broken',
      createData: async () => {
        throw new TypeError(`minified.library.code(${'x'.repeat(40_000)})`);
      },
    });
    const out = join(tempDir('cli-broken'), 'run');
    const r = await d2v('pretrain', '--modality', 'broken', '--out', out, '--steps', '1');
    expect(r.code).toBe(EXIT.internal);
    const lines = failureLines(r.err);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^d2v: internal error: TypeError: minified\.library\.code\(x+… \(40023 characters\)$/);
    expect(lines[0]!.length).toBeLessThan(400);
    expect(lines[1]).toMatch(/rerun with --verbose \(or D2V_DEBUG=1\) for the stack trace/);
    expect(r.err.join('\n')).not.toMatch(/at .*commands\.ts/);
    const verbose = await d2v('pretrain', '--modality', 'broken', '--out', join(tempDir('cli-broken'), 'run'), '--steps', '1', '--verbose');
    expect(verbose.err.join('\n')).toMatch(/TypeError: minified[\s\S]*\n\s+at /);
    process.env['D2V_DEBUG'] = '1';
    try {
      const debug = await d2v('pretrain', '--modality', 'broken', '--out', join(tempDir('cli-broken'), 'run'), '--steps', '1');
      expect(debug.err.join('\n')).toMatch(/TypeError: minified[\s\S]*\n\s+at /);
    } finally {
      delete process.env['D2V_DEBUG'];
    }
  });

  it('describeFailure maps every d2v error class to its documented exit code', () => {
    expect(describeFailure(new BackendError('no GPU')).exitCode).toBe(EXIT.environment);
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write', path: '/runs/x/metrics.jsonl' });
    const f = describeFailure(enospc);
    expect(f.exitCode).toBe(EXIT.io);
    expect(f.lines).toEqual(['d2v: FileSystemError: /runs/x/metrics.jsonl: no space left on the device: free some space, or write the run elsewhere with --out (ENOSPC in write)']);
  });

  it('--backend auto keeps the reason a faster backend failed', async () => {
    registerBackend('fake-gpu', {
      load: async () => {
        throw new Error('libcudart.so.11.0: cannot open shared object file');
      },
      tfName: 'fake-gpu',
      priority: 100,
    });
    const logs: string[] = [];
    expect(await initBackend('auto', { log: (m) => logs.push(m) })).toBe('wasm');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^d2v: backend auto -> wasm; not used: fake-gpu: libcudart\.so\.11\.0: cannot open shared object file; tensorflow-gpu: /);
  });

  it('info starts the backend --backend names', async () => {
    const r = await d2v('info', '--backend', 'cpu');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out[0]).toMatch(/^backend: cpu /);
    await initBackend('wasm');
  });

  it('--out at an existing file: one line, exit 2', async () => {
    const file = join(tempDir('cli-file'), 'a-file');
    writeFileSync(file, 'x');
    const r = await d2v('pretrain', '--modality', TOY, '--out', file, '--steps', '1');
    expect(r.code).toBe(EXIT.usage);
    expect(failureLines(r.err)).toEqual([`d2v: ConfigError: out: ${file} is a file, not a folder; choose another --out`]);
  });
});
