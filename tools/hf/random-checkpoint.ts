/**
 * A d2v checkpoint of a preset's encoder + Transformer with random values in every parameter
 * (biases, norms, layer scale, positions included), for checking a preset's Hugging Face export
 * without pretraining it (tools/hf/verify.py compare MODALITY:PRESET). Only the student is written.
 *
 *   npx tsx tools/hf/random-checkpoint.ts --modality vision --preset paper-base --out DIR [--seed 1]
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointManager, ConfigError, D2vError, buildStudent, prepareRun } from '@d2v/core';

async function main(argv: string[]): Promise<void> {
  const arg = (k: string) => {
    const i = argv.indexOf(`--${k}`);
    if (i < 0 || argv[i + 1] === undefined) throw new ConfigError(`--${k} is required (usage: random-checkpoint.ts --modality NAME --preset P --out DIR [--seed N])`, k);
    return argv[i + 1]!;
  };
  const seed = argv.includes('--seed') ? Number(arg('seed')) : 1;
  const { modality, config } = await prepareRun({ modality: arg('modality'), preset: arg('preset'), overrides: { out: arg('out'), seed } });
  const parts = buildStudent(modality, config);
  const student: Record<string, tf.Tensor> = {};
  let s = seed;
  for (const [prefix, m] of [['encoder.', parts.encoder], ['transformer.', parts.transformer]] as const) {
    for (const [name, v] of m.variables()) {
      // Matrices scaled by fan-in keep activations in range; vectors around their usual values.
      const fanIn = v.rank >= 2 ? v.size / v.shape[v.rank - 1]! : 1;
      const isScale = /norm[^.]*\.weight$|\.ls\d$/.test(name);
      v.assign(tf.tidy(() => tf.add(tf.randomNormal(v.shape, 0, v.rank >= 2 ? 1 / Math.sqrt(fanIn) : 0.2, 'float32', s++), isScale ? 1 : 0)));
      student[prefix + name] = v;
    }
  }
  const dir = await new CheckpointManager(config.out, { keepLast: 1 }).save({ step: 0, groups: { student }, state: { random: true }, config: config as unknown as Record<string, unknown> });
  console.error(`random ${modality.name} ${config.preset}: ${(parts.encoder.numParams() + parts.transformer.numParams()) / 1e6}M parameters -> ${dir}`);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof D2vError ? `random-checkpoint: ${err.name}: ${err.message}` : err);
  process.exitCode = 1;
});
