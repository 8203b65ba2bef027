import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { initBackend, pretrain, ConfigError } from '@d2v/core';
import { quietRun, tempDir } from '@d2v/core/testing';
import { modality } from '../src/index.js';

const small = { 'model.dim': 32, 'model.depth': 2, 'model.heads': 2, 'model.ffnDim': 64, 'objective.topK': 2, 'train.batchSize': 4 };

beforeAll(async () => {
  await initBackend('wasm');
});

describe('vision options are checked while the config is resolved, before the run folder exists', () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ 'vision.patchSize': 5 }, 'vision.patchSize', /vision\.patchSize \(5\) must divide vision\.imageSize \(28\) into whole patches/],
    [{ 'masking.ratio': 1.5 }, 'masking.ratio', /option masking\.ratio must be in \(0, 1\), got 1\.5/],
    // An option's old name (before the masking options moved to one section) names the new one.
    [{ 'vision.maskRatio': 0.5 }, 'masking.ratio', /option 'vision\.maskRatio' was renamed to 'masking\.ratio'/],
    [{ 'masking.inverseBlockSize': 8, 'objective.version': 2 }, 'masking.inverseBlockSize', /masking\.inverseBlockSize \(8\) exceeds the 7x7 patch grid/],
    [{ 'vision.channels': 2 }, 'vision.channels', /vision\.channels must be 1 \(grey\) or 3 \(RGB\), got 2/],
    [{ 'data.mean': '0.1,0.2' }, 'data.mean', /data\.mean has 2 entries for 1-channel images/],
    [{ 'data.cropScale': '0.9,0.2' }, 'data.cropScale', /data\.cropScale must be two fractions, smallest first/],
  ];
  for (const [overrides, key, message] of cases) {
    it(Object.entries(overrides).map(([k, v]) => `--${k} ${v}`).join(' '), async () => {
      const out = join(tempDir('vision-cfg'), 'run');
      const err = await pretrain({ modality, preset: 'tiny', ...quietRun, overrides: { ...small, out, 'train.steps': 1, ...overrides } }).catch((e) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.key).toBe(key);
      expect(err.message).toMatch(message);
      expect(existsSync(out)).toBe(false);
    });
  }
});

describe('data.skipBad', () => {
  it('a training run lists every skipped image, with the reason, in skipped-files.tsv', async () => {
    const root = tempDir('vision-bad');
    for (const [cls, colour] of [['cat', { r: 200, g: 30, b: 30 }], ['dog', { r: 30, g: 30, b: 200 }]] as const) {
      mkdirSync(join(root, cls));
      for (let i = 0; i < 4; i++) await sharp({ create: { width: 28, height: 28, channels: 3, background: colour } }).png().toFile(join(root, cls, `${i}.png`));
    }
    writeFileSync(join(root, 'cat', 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\nnot really a png'));
    writeFileSync(join(root, 'dog', 'empty.jpg'), Buffer.alloc(0));
    const out = join(tempDir('vision-bad-run'), 'run');
    const logs: string[] = [];
    await pretrain({ modality, preset: 'tiny', ...quietRun, log: (m) => logs.push(m), overrides: { ...small, out, 'train.steps': 1, 'data.path': root, 'data.skipBad': true } });
    const lines = readFileSync(join(out, 'skipped-files.tsv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('file\treason');
    expect(lines.slice(1).map((l) => l.split('\t')[0]).sort()).toEqual([join(root, 'cat', 'broken.png'), join(root, 'dog', 'empty.jpg')]);
    expect(lines.slice(1).every((l) => l.split('\t')[1]!.length > 0)).toBe(true);
    expect(logs.join('\n')).toContain(`2 unreadable input file(s) were left out; all of them, with reasons: ${join(out, 'skipped-files.tsv')}`);
  });
});
