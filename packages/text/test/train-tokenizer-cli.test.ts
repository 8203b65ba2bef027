import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SentencePieceTokenizer } from '../src/tokenizer/sentencepiece.js';
import { bundledCorpusFiles } from '../src/data/paths.js';

// The `nx run text:train-tokenizer` target: scripts/train-tokenizer.ts run with cwd = packages/text.
const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'd2v-tok-cli-'));
  // A user's text: blank-line separated paragraphs, one with invalid UTF-8 bytes.
  const text = readFileSync(bundledCorpusFiles().valid, 'utf8').slice(0, 40_000);
  writeFileSync(join(dir, 'notes.txt'), Buffer.concat([Buffer.from(text), Buffer.from([0xff, 0xfe, 0x0a, 0x0a]), Buffer.from('last paragraph\n')]));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runScript(args: string[], env: Record<string, string | undefined>) {
  return spawnSync(process.execPath, [tsxCli, 'scripts/train-tokenizer.ts', ...args], { cwd: pkgDir, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
}

describe('train-tokenizer command', () => {
  it("trains on the user's text file, resolving relative paths against where the command was started", async () => {
    const r = runScript(['--input', 'notes.txt', '--vocab-size', '300', '--no-byte-fallback'], { NX_WORKSPACE_ROOT: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const model = join(dir, 'notes-sp300.model');
    expect(r.stdout).toContain(model);
    expect(r.stdout).toMatch(/<s>=0 <pad>=1 <\/s>=2 <unk>=3 <mask>=299/);
    const tok = await SentencePieceTokenizer.load(model);
    expect([tok.bosId, tok.padId, tok.eosId, tok.unkId, tok.maskId, tok.vocabSize]).toEqual([0, 1, 2, 3, 299, 300]);
    expect(tok.decode(tok.encode('the whale'))).toBe('the whale');
  });

  it('says how to install spm_train when it is not on PATH, without a stack trace', () => {
    // PATH holds node only, so spawn('spm_train') fails the way it does on a machine without sentencepiece.
    const bin = join(dir, 'bin-without-spm');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = runScript(['--input', join(dir, 'notes.txt'), '--out', join(dir, 'never'), '--vocab-size', '300'], { PATH: bin });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^train-tokenizer: spm_train was not found: install Debian's sentencepiece \(apt-get install sentencepiece\)/);
    expect(r.stderr).toContain('--spm-train /path/to/spm_train');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'never.model'))).toBe(false);
  });

  it('names a missing input file', () => {
    const r = runScript(['--input', 'no-such.txt'], { NX_WORKSPACE_ROOT: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${join(dir, 'no-such.txt')}: tokenizer training input not found`);
  });
});
