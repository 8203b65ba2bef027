/**
 * A run folder (`--out`) belongs to one run. Before a run writes anything, planRun decides what the
 * folder holds and what the run may do with it: start in an empty or absent folder, replace an
 * earlier run (`overwrite`), or continue one (`resume`, from the latest checkpoint, whose config
 * must match this run's except for keys that are safe to change). startRun then carries the plan
 * out. Mixing two runs in one folder (metrics of both, plots of the old one, pruning that keeps an
 * old checkpoint beside new ones) is what this prevents.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { migrateStoredConfig, type ResolvedConfig } from '../config/resolve.js';
import { flattenTree } from '../config/schema.js';
import { CheckpointError, ConfigError } from '../errors.js';
import { CheckpointManager } from '../io/checkpoint.js';
import { diffConfig } from '../io/configDiff.js';
import { TEMP_PREFIX, writeFileAtomic } from '../io/atomic.js';
import { METRICS_FILE } from '../report/metrics.js';
import { SKIPPED_FILES } from '../report/skipped.js';

/** Keys that never matter to a resume: where the run lives, logging and checkpoint cadence, hardware. */
export const RESUME_IGNORED_KEYS = ['out', 'resume', 'overwrite', 'backend', 'train.logEvery', 'train.checkpointEvery', 'train.keepLast', 'train.workers'];

/**
 * Keys a resume may change, with a note in the log: they steer the updates still to come (how far
 * and how fast), not the meaning of the saved weights and optimiser moments. Everything else
 * (model, objective, data, Adam's betas) must match the checkpoint.
 */
export const RESUME_CHANGEABLE_KEYS = [
  'train.steps',
  'optim.lr',
  'optim.schedule',
  'optim.warmupSteps',
  'optim.phaseRatios',
  'optim.initLrScale',
  'optim.finalLrScale',
  'optim.clipNorm',
  'optim.maxNonFiniteSkips',
  // A fine-tuning run trains with these (copied into optim.* and train.*).
  'finetune.steps',
  'finetune.lr',
  'finetune.schedule',
  'finetune.warmupSteps',
  'finetune.clipNorm',
];

const CONFIG_FILE = 'config.json';
/** plotTrainingCurves draws each chart as PNG with an SVG beside it. */
const PLOTS = ['loss', 'variance', 'lr', 'probe', 'confusion'].flatMap((name) => [`${name}.png`, `${name}.svg`]);
// summary.json / probe.png: the end-of-pretraining probe; confusion.png: a classification head's evaluation.
const RUN_FILES = new Set([CONFIG_FILE, METRICS_FILE, 'checkpoints', 'train-summary.json', 'summary.json', 'eval.json', SKIPPED_FILES, ...PLOTS]);

/** True for what a d2v run writes into its folder (what `overwrite` replaces). */
export function isRunFile(name: string): boolean {
  return RUN_FILES.has(name) || /^eval-.+\.json$/.test(name) || name.startsWith(TEMP_PREFIX) || name.startsWith(`${METRICS_FILE}.tmp-`);
}

export interface RunPlan {
  runDir: string;
  /** The checkpoint a resume continues from; absent: the run starts at step 0. */
  resumeFrom?: { dir: string; step: number };
  /** Entries of an earlier run that `overwrite` deletes (startRun does). */
  replaces: string[];
  /** What the log should say: options changed on resume, what is replaced, a resume without checkpoint. */
  notes: string[];
}

const listing = (names: string[]) => (names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', '));

/** Refuses a file standing where the run folder, or a folder above it, must be. */
function checkFolderPath(path: string): void {
  for (let p = resolve(path); ; p = dirname(p)) {
    if (existsSync(p)) {
      if (!statSync(p).isDirectory()) {
        const what = p === resolve(path) ? `${path} is a file, not a folder` : `${p} (on the way to ${path}) is a file, not a folder`;
        throw new ConfigError(`out: ${what}; choose another --out`, 'out');
      }
      return;
    }
    if (dirname(p) === p) return;
  }
}

/** Diffs a stored config against this run's; refuses differences outside the changeable keys. */
function compareForResume(storedFile: string, saved: Record<string, unknown>, config: ResolvedConfig): string[] {
  const current: Record<string, unknown> = config;
  // A run saved before an option was renamed is compared under the new names.
  const stored = migrateStoredConfig(saved, new Set(flattenTree(current).keys()));
  const refused = diffConfig(stored, current, [...RESUME_IGNORED_KEYS, ...RESUME_CHANGEABLE_KEYS]);
  if (refused.length) {
    throw new CheckpointError(
      storedFile,
      `config mismatch: ${refused.join('; ')}. --resume may change only ${RESUME_CHANGEABLE_KEYS.join(', ')}; to train a different model start a new run (another --out, or --overwrite)`,
    );
  }
  return diffConfig(stored, current, RESUME_IGNORED_KEYS).map((d) => `--resume with a changed option: ${d}`);
}

/** Decides, without writing anything, what this run does with its folder; throws when the folder is not its to use. */
export function planRun(config: ResolvedConfig, runDir = config.out): RunPlan {
  checkFolderPath(runDir);
  const entries = existsSync(runDir) ? readdirSync(runDir).sort() : [];
  const plan: RunPlan = { runDir, replaces: [], notes: [] };
  if (config.resume) {
    const ckpt = new CheckpointManager(runDir, { keepLast: config.train.keepLast });
    const dir = ckpt.latestDir();
    if (dir) {
      const { step, config: stored } = ckpt.readConfig(dir);
      plan.notes.push(...compareForResume(join(dir, CONFIG_FILE), stored, config));
      if (step > config.train.steps) {
        throw new ConfigError(`--resume: the checkpoint ${dir} is at step ${step}, past train.steps ${config.train.steps}; give --steps above ${step} to train on`, 'train.steps');
      }
      plan.resumeFrom = { dir, step };
    } else {
      const runConfig = join(runDir, CONFIG_FILE);
      if (existsSync(runConfig)) {
        let stored: Record<string, unknown>;
        try {
          stored = JSON.parse(readFileSync(runConfig, 'utf8')) as Record<string, unknown>;
        } catch (err) {
          throw new CheckpointError(runConfig, `is not valid JSON (${(err as Error).message.split('\n')[0]}); start a new run with --overwrite`);
        }
        plan.notes.push(...compareForResume(runConfig, stored, config));
      }
      plan.notes.push(`--resume: ${runDir} has no checkpoint yet; starting from step 0${entries.includes(METRICS_FILE) ? ` (the earlier attempt's records in ${METRICS_FILE} are dropped)` : ''}`);
    }
    return plan;
  }
  if (entries.length === 0) return plan;
  const ours = entries.filter(isRunFile);
  if (!config.overwrite) {
    const what = ours.length ? `an earlier run (${listing(ours)})` : `${entries.length} other file(s) (${listing(entries)})`;
    throw new ConfigError(`out: ${runDir} already holds ${what}; continue it with --resume, replace it with --overwrite, or choose another --out`, 'out');
  }
  plan.replaces = ours;
  const others = entries.filter((e) => !isRunFile(e));
  plan.notes.push(`--overwrite: deleting the earlier run in ${runDir} (${listing(ours) || 'nothing of a run'})${others.length ? `; keeping ${others.length} other file(s) (${listing(others)})` : ''}`);
  return plan;
}

/** Carries a plan out: deletes what it replaces, creates the folder, writes the run's config.json. */
export function startRun(plan: RunPlan, config: ResolvedConfig): void {
  for (const name of plan.replaces) rmSync(join(plan.runDir, name), { recursive: true, force: true });
  mkdirSync(plan.runDir, { recursive: true });
  writeFileAtomic(join(plan.runDir, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
}
