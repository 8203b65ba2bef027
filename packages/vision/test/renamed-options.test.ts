/**
 * A vision run written before the mask options moved from `vision.*` to the `masking` section
 * (vision.maskRatio -> masking.ratio, ...) keeps working with its own values: loadModel (predict,
 * embed), d2v export, --config RUN/config.json and --resume read it under the new names.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportCheckpoint, initBackend, pretrain, resolveConfig } from '@d2v/core';
import { quietRun, tempDir } from '@d2v/core/testing';
import { loadModel, modality } from '../src/index.js';

// A small model with the export-ready preset (a CLS token); mask options unlike the preset's.
const options = {
  'model.dim': 32,
  'model.depth': 2,
  'model.heads': 2,
  'model.ffnDim': 64,
  'objective.topK': 2,
  'objective.decoder.dim': 32,
  'objective.decoder.groups': 4,
  'train.batchSize': 4,
  'train.checkpointEvery': 2,
  'masking.ratio': 0.75,
  'masking.inverseBlockSize': 2,
};
/** Where the run's options were before (the inverse of core's RENAMED_KEYS for vision). */
const OLD_NAMES = { ratio: 'maskRatio', minBlockPatches: 'minBlockPatches', minAspect: 'minAspect', inverseBlockSize: 'inverseBlockSize', inverseBlockAdjust: 'maskAdjust' };

/** Rewrites a config.json as the earlier version wrote it (mask options under `vision`), keeping a checkpoint's manifest valid. */
function age(file: string): void {
  const c = JSON.parse(readFileSync(file, 'utf8'));
  for (const [now, before] of Object.entries(OLD_NAMES)) c.vision[before] = c.masking[now];
  delete c.masking;
  const text = JSON.stringify(c, null, 2) + '\n';
  writeFileSync(file, text);
  const manifestFile = join(file, '..', 'manifest.json');
  if (!existsSync(manifestFile)) return;
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  manifest.files['config.json'] = { sha256: createHash('sha256').update(text).digest('hex'), bytes: Buffer.byteLength(text) };
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
}

let run: string;

beforeAll(async () => {
  await initBackend('wasm');
  run = join(tempDir('vision-old-run'), 'run');
  await pretrain({ modality, preset: 'hf-tiny', ...quietRun, overrides: { ...options, out: run, 'train.steps': 2 } });
  const checkpoints = join(run, 'checkpoints');
  for (const file of [join(run, 'config.json'), ...readdirSync(checkpoints).filter((d) => d.startsWith('step-')).map((d) => join(checkpoints, d, 'config.json'))]) age(file);
  expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).vision.maskRatio).toBe(0.75);
});

describe('a run saved with the old mask option names', () => {
  it('loads for predict and embed with its own mask options', async () => {
    const logs: string[] = [];
    const model = await loadModel(run, { log: (m) => logs.push(m) });
    try {
      expect(model.config.masking).toMatchObject({ ratio: 0.75, inverseBlockSize: 2 });
      expect(logs.join('\n')).toContain('reading renamed options under their new names: vision.maskRatio -> masking.ratio');
      expect(logs.join('\n')).not.toMatch(/ignoring options/);
    } finally {
      model.dispose();
    }
  });

  it('exports as a Hugging Face folder, and its config.json is a --config file', async () => {
    const r = await exportCheckpoint({ format: 'hf', init: run, out: join(tempDir('vision-old-hf'), 'hf'), log: () => {} });
    expect(r.modality).toBe('vision');
    const c = resolveConfig({ modality: 'vision', modalitySchema: modality.schema, presets: modality.presets, preset: 'hf-tiny', file: join(run, 'config.json') });
    expect(c.masking).toMatchObject({ ratio: 0.75, inverseBlockSize: 2 });
  });

  it('continues with --resume, and the run then records the new names', async () => {
    const r = await pretrain({ modality, preset: 'hf-tiny', ...quietRun, overrides: { ...options, out: run, resume: true, 'train.steps': 3 } });
    expect(r.step).toBe(3);
    const saved = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    expect(saved.masking).toMatchObject({ ratio: 0.75, inverseBlockSize: 2 });
    expect(saved.vision.maskRatio).toBeUndefined();
  });
});
