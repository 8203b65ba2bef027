/**
 * The end of a pretraining run: how good are the features? The modality's probe evaluation
 * (`d2v eval --task probe`) runs twice on its bundled (or configured) labelled data, bounded by the
 * modality's `summaryProbe` overrides: on the pretrained encoder, and on the same encoder at its
 * random initialisation (the weights pretraining started from). Both numbers go to the log,
 * `summary.json` and a bar chart in the run folder.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AnyModality } from '../registry/modality.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { applyOverrides } from '../config/schema.js';
import { fullSchema } from '../config/resolve.js';
import { buildStudent } from '../model/base.js';
import { loadStudentWeights, resolveCheckpointDir } from '../run/commands.js';
import { writeFileAtomic } from '../io/atomic.js';
import { barChartPng } from '../report/plot.js';
import { formatDuration } from '../report/format.js';
import { PluginError } from '../errors.js';

export const SUMMARY_FILE = 'summary.json';

export interface PretrainSummary {
  modality: string;
  /** The pretraining checkpoint probed. */
  checkpoint: string;
  step: number;
  /** Evaluation run (a name in `modality.evaluations`) and the overrides that bound it. */
  evaluation: string;
  overrides: Record<string, unknown>;
  /** The headline metric compared (e.g. accuracy). */
  metric: string;
  pretrained: Record<string, number>;
  randomInit: Record<string, number>;
  seconds: { pretrained: number; randomInit: number };
  /** PNG charts in the run folder (training curves and the probe comparison). */
  plots: string[];
  /** Where this summary was written. */
  file: string;
}

export interface SummaryOptions {
  modality: AnyModality;
  /** The pretraining run's resolved config. */
  config: ResolvedConfig;
  /** The run folder (its latest checkpoint is probed; summary.json and probe.png go here). */
  runDir: string;
  log?: (msg: string) => void;
  /** Draw probe.png (default true). */
  plots?: boolean;
}

/** The evaluation a modality's summary runs: its `summaryProbe`, else an evaluation named `probe`, else none. */
export function summaryProbeOf(modality: AnyModality): { evaluation: string; metric: string; overrides: Record<string, unknown> } | undefined {
  const declared = modality.summaryProbe;
  const evaluation = declared?.evaluation ?? 'probe';
  if (!modality.evaluations?.[evaluation]) {
    if (declared?.evaluation === undefined) return undefined;
    const known = Object.keys(modality.evaluations ?? {});
    throw new PluginError(`modality ${modality.name}: summaryProbe.evaluation '${evaluation}' is not one of its evaluations (${known.join(', ') || 'none'})`);
  }
  return { evaluation, metric: declared?.metric ?? 'accuracy', overrides: declared?.overrides ?? {} };
}

/**
 * Probes the run's latest checkpoint and the random initialisation with the modality's summary
 * evaluation; writes `summary.json` (and `probe.png`). Returns undefined when the modality has no
 * such evaluation (nothing is written then).
 */
export async function summarizePretraining(o: SummaryOptions): Promise<PretrainSummary | undefined> {
  const log = o.log ?? ((m: string) => console.error(m));
  const probe = summaryProbeOf(o.modality);
  if (!probe) {
    log(`d2v: modality ${o.modality.name} has no probe evaluation: no end-of-run summary`);
    return undefined;
  }
  const source = `summary probe of ${o.modality.name}`;
  const config = applyOverrides(structuredClone(o.config), fullSchema(o.modality.schema), new Map(Object.entries(probe.overrides)), source);
  const evaluate = o.modality.evaluations![probe.evaluation]!;
  const checkpoint = resolveCheckpointDir(o.runDir);
  const quiet = () => {};

  const run = async (pretrained: boolean): Promise<{ metrics: Record<string, number>; seconds: number }> => {
    const t0 = performance.now();
    // Same modality, config and seed as the pretraining: the random arm is exactly where pretraining started.
    const parts = buildStudent(o.modality, config);
    try {
      const weights = pretrained ? await loadStudentWeights(checkpoint, parts, quiet) : undefined;
      try {
        const metrics = await evaluate({ config, encoder: parts.encoder, transformer: parts.transformer, log: quiet, weights });
        return { metrics, seconds: (performance.now() - t0) / 1000 };
      } finally {
        if (weights) tf.dispose(Object.values(weights));
      }
    } finally {
      parts.encoder.dispose();
      parts.transformer.dispose();
    }
  };

  log(`d2v: summary: ${probe.evaluation} of the pretrained encoder (${checkpoint}) and of its random initialisation`);
  const pre = await run(true);
  log(`d2v: summary: pretrained ${describeMetric(probe.metric, pre.metrics)} (${formatDuration(pre.seconds)}); now the random initialisation`);
  const rnd = await run(false);

  const runDir = resolve(o.runDir);
  if (o.plots !== false && Number.isFinite(pre.metrics[probe.metric]) && Number.isFinite(rnd.metrics[probe.metric])) {
    await barChartPng(join(runDir, 'probe.png'), {
      title: `${o.modality.name}: ${probe.evaluation} ${probe.metric}, pretrained (step ${stepOf(checkpoint)}) vs random init`,
      yLabel: probe.metric,
      bars: [
        { label: 'pretrained', value: pre.metrics[probe.metric]! },
        { label: 'random init', value: rnd.metrics[probe.metric]! },
      ],
    });
  }
  const plots = existsSync(runDir) ? readdirSync(runDir).filter((f) => f.endsWith('.png')).sort().map((f) => join(runDir, f)) : [];
  const summary: PretrainSummary = {
    modality: o.modality.name,
    checkpoint,
    step: stepOf(checkpoint),
    evaluation: probe.evaluation,
    overrides: probe.overrides,
    metric: probe.metric,
    pretrained: pre.metrics,
    randomInit: rnd.metrics,
    seconds: { pretrained: pre.seconds, randomInit: rnd.seconds },
    plots,
    file: join(runDir, SUMMARY_FILE),
  };
  writeFileAtomic(summary.file, JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

function stepOf(checkpointDir: string): number {
  const m = /step-(\d+)$/.exec(checkpointDir);
  return m ? Number(m[1]) : NaN;
}

function describeMetric(metric: string, metrics: Record<string, number>): string {
  const v = metrics[metric];
  if (v === undefined || !Number.isFinite(v)) return `${metric} n/a`;
  return /accuracy|f1/i.test(metric) ? `${metric} ${(100 * v).toFixed(1)}%` : `${metric} ${v.toPrecision(4)}`;
}

/** The lines a user reads at the end of `d2v pretrain`. */
export function formatSummary(s: PretrainSummary): string {
  const secs = formatDuration(s.seconds.pretrained + s.seconds.randomInit);
  return [
    `${s.evaluation} (${s.metric} on held-out data, frozen features): pretrained ${describeMetric(s.metric, s.pretrained).replace(`${s.metric} `, '')}, ` +
      `random init ${describeMetric(s.metric, s.randomInit).replace(`${s.metric} `, '')} (${secs})`,
    `summary: ${s.file}`,
    `plots: ${s.plots.join(', ') || 'none'}`,
  ].join('\n');
}
