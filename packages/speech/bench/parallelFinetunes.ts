/**
 * What both speech evidence scripts do to compare fine-tunings (pretrained vs scratch, or one per
 * pretraining): each run in a child process of its own, at the same time (the Trainer fine-tunes
 * on one thread, so two runs use both cores). The calling script is the child: it calls
 * serveFinetuneChild() before anything else, which runs the one job it was given and exits.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, finetune } from '@d2v/core';
import { modality } from '../src/index.js';

export interface FinetuneJob {
  preset: string;
  /** A run's config.json to start from (e.g. the pretraining's), before `overrides`. */
  configFile?: string;
  overrides: Record<string, unknown>;
}

export interface FinetuneChildResult {
  metrics: Record<string, number>;
  /** Loss of every update. */
  losses: number[];
  secondsPerStep: number;
  steps: number;
  lr: number;
}

const CHILD_FLAG = '--finetune-child';

/** In a child started by finetunesInParallel: runs its job, writes the result and exits; otherwise returns at once. */
export async function serveFinetuneChild(): Promise<void> {
  if (process.argv[2] !== CHILD_FLAG) return;
  const { job, result } = JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as { job: FinetuneJob; result: string };
  await initBackend(String(job.overrides['backend'] ?? 'wasm'));
  const r = await finetune({
    modality,
    preset: job.preset,
    configFile: job.configFile,
    overrides: job.overrides,
    log: (m) => console.error(`[${job.overrides['out']}] ${m}`),
    progressStream: { write: () => true, isTTY: false } as never,
  });
  const out: FinetuneChildResult = { metrics: r.metrics, losses: r.losses, secondsPerStep: r.secondsPerStep, steps: r.step, lr: r.config.optim.lr };
  writeFileSync(result, JSON.stringify(out) + '\n');
  process.exit(0);
}

/**
 * Runs every job at once, each in a child process of `scriptUrl` (the caller's import.meta.url);
 * job and result files go to `dir` as job-NAME{tag}.json / result-NAME{tag}.json.
 */
export async function finetunesInParallel<K extends string>(scriptUrl: string, dir: string, tag: string, jobs: Record<K, FinetuneJob>): Promise<Record<K, FinetuneChildResult>> {
  const script = fileURLToPath(scriptUrl);
  const results = await Promise.all(
    (Object.entries(jobs) as [K, FinetuneJob][]).map(([name, job]) => {
      const jobFile = join(dir, `job-${name}${tag}.json`);
      const result = join(dir, `result-${name}${tag}.json`);
      writeFileSync(jobFile, JSON.stringify({ job, result }));
      return new Promise<[K, FinetuneChildResult]>((ok, fail) => {
        const p = spawn(process.execPath, [...process.execArgv, script, CHILD_FLAG, jobFile], { stdio: ['ignore', 'inherit', 'inherit'] });
        p.on('exit', (code) => (code === 0 ? ok([name, JSON.parse(readFileSync(result, 'utf8')) as FinetuneChildResult]) : fail(new Error(`fine-tuning ${name} exited with ${code} (job: ${jobFile})`))));
      });
    }),
  );
  return Object.fromEntries(results) as Record<K, FinetuneChildResult>;
}
