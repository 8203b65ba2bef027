/**
 * Charts for run reports: generic line and bar charts, and the standard
 * training curves (loss, target/prediction variance, learning rate) drawn
 * from a run's metrics.jsonl. Each chart is written as PNG with an SVG beside it.
 */
import * as path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { ConfigError, DataError } from '../errors.js';
import { METRICS_FILE, readMetrics, type MetricRecord } from './metrics.js';
import { CHART_CONFIG, renderChart, type ChartFiles } from './render.js';
import { autoSmoothing, downsample, smoothEma, type Point } from './series.js';

export type { ChartFiles } from './render.js';
export type { Point } from './series.js';

export interface LineSeries {
  name: string;
  points: Point[];
  /** Line width in px. Default 2. */
  strokeWidth?: number;
  /** 0..1; e.g. a faint raw curve under a bold smoothed one. Default 1. */
  opacity?: number;
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  series: LineSeries[];
  xLabel: string;
  yLabel: string;
  /** Log-scale y axis; points with y <= 0 cannot be drawn there and are left out. */
  logY?: boolean;
  /** d3-format string for y tick labels, e.g. `.1e` for learning rates. */
  yFormat?: string;
  width?: number;
  height?: number;
  /** Longer series are thinned (keeping per-bucket min and max) to keep the SVG small. Default 2000. */
  maxPoints?: number;
}

export interface Bar {
  label: string;
  value: number;
  /** Half-height of an error bar drawn around the value (e.g. a standard deviation). */
  error?: number;
  /** Bars sharing a label but with different groups are drawn side by side, colored by group. */
  group?: string;
}

export interface BarChartOptions {
  title: string;
  bars: Bar[];
  yLabel: string;
  xLabel?: string;
  width?: number;
  height?: number;
  /** d3 format of the value printed above each bar (default '.3~f'; '' = none). */
  valueFormat?: string;
}

// Tableau-10: distinguishable and colour-blind tolerant for the first few series.
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#bab0ac', '#ff9da6'];
// Few points read better with markers; many markers would hide the line.
const MARKER_LIMIT = 30;

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

export async function lineChartPng(file: string, options: LineChartOptions): Promise<ChartFiles> {
  const { title, xLabel, yLabel, logY = false } = options;
  const maxPoints = options.maxPoints ?? 2000;
  const drawable = (p: Point): boolean => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logY || p.y > 0);
  const series = options.series.map((s) => ({ ...s, points: downsample(s.points.filter(drawable), maxPoints) }));
  if (series.every((s) => s.points.length === 0)) {
    throw new ConfigError(`${file}: chart "${title}" has no drawable points${logY ? ' (log scale needs y > 0)' : ''}`);
  }
  const names = unique(series.map((s) => s.name));
  const spec: TopLevelSpec = {
    ...CHART_CONFIG,
    title,
    width: options.width ?? 640,
    height: options.height ?? 360,
    layer: series.map((s) => ({
      data: { values: s.points },
      mark: {
        type: 'line' as const,
        strokeWidth: s.strokeWidth ?? 2,
        opacity: s.opacity ?? 1,
        ...(s.dashed ? { strokeDash: [6, 4] } : {}),
        point: s.points.length <= MARKER_LIMIT,
        clip: true,
      },
      encoding: {
        x: { field: 'x', type: 'quantitative' as const, title: xLabel, scale: { zero: false, nice: false } },
        y: {
          field: 'y',
          type: 'quantitative' as const,
          title: logY ? `${yLabel} (log scale)` : yLabel,
          scale: logY ? { type: 'log' as const } : { zero: false },
          ...(options.yFormat ? { axis: { format: options.yFormat } } : {}),
        },
        color: {
          datum: s.name,
          type: 'nominal' as const,
          scale: { domain: names, range: PALETTE },
          // A single series is named by the title already; a legend would only repeat it.
          legend: names.length > 1 ? { title: null, orient: 'bottom' as const, direction: 'horizontal' as const } : null,
        },
      },
    })),
  };
  return renderChart(file, spec);
}

export async function barChartPng(file: string, options: BarChartOptions): Promise<ChartFiles> {
  const { title, bars, yLabel } = options;
  const usable = bars.filter((b) => Number.isFinite(b.value));
  if (usable.length === 0) throw new ConfigError(`${file}: chart "${title}" has no finite bar values`);
  const labels = unique(usable.map((b) => b.label));
  const groups = unique(usable.flatMap((b) => (b.group === undefined ? [] : [b.group])));
  const grouped = groups.length > 0;
  const values = usable.map((b) => ({
    label: b.label,
    group: b.group ?? '',
    value: b.value,
    lo: b.error === undefined ? null : b.value - Math.abs(b.error),
    hi: b.error === undefined ? null : b.value + Math.abs(b.error),
  }));
  // Long labels overlap when horizontal.
  const longLabels = labels.some((l) => l.length > 10);
  const offset = grouped ? { xOffset: { field: 'group', type: 'nominal' as const, sort: groups } } : {};
  const spec: TopLevelSpec = {
    ...CHART_CONFIG,
    title,
    // Wide enough for the title too, so it does not hang over an empty canvas.
    width: options.width ?? Math.min(1000, Math.max(320, usable.length * 48, title.length * 9 - 60)),
    height: options.height ?? 320,
    data: { values },
    encoding: {
      x: {
        field: 'label',
        type: 'nominal',
        sort: labels,
        title: options.xLabel ?? null,
        axis: { labelAngle: longLabels ? -30 : 0, labelLimit: 160 },
      },
      ...offset,
    },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'value', type: 'quantitative', title: yLabel },
          color: grouped
            ? {
                field: 'group',
                type: 'nominal',
                sort: groups,
                scale: { range: PALETTE },
                legend: { title: null, orient: 'bottom', direction: 'horizontal', labelLimit: 400 },
              }
            : { value: PALETTE[0] },
        },
      },
      ...(options.valueFormat === ''
        ? []
        : [
            {
              mark: { type: 'text' as const, dy: -7, fontSize: 11, color: '#333333' },
              encoding: {
                y: { field: 'value', type: 'quantitative' as const, title: yLabel },
                text: { field: 'value', type: 'quantitative' as const, format: options.valueFormat ?? '.3~f' },
              },
            },
          ]),
      {
        transform: [{ filter: 'datum.lo != null' }],
        mark: { type: 'errorbar', ticks: { size: 12, color: '#333333' }, color: '#333333' },
        encoding: {
          y: { field: 'lo', type: 'quantitative', title: yLabel },
          y2: { field: 'hi' },
        },
      },
    ],
  };
  return renderChart(file, spec);
}

function seriesOf(records: MetricRecord[], key: string): Point[] {
  const points: Point[] = [];
  for (const record of records) {
    const value = record[key];
    if (typeof value === 'number' && Number.isFinite(value)) points.push({ x: record.step, y: value });
  }
  return points.sort((a, b) => a.x - b.x);
}

/**
 * A loss falling over orders of magnitude is unreadable on a linear axis.
 * Judged on the smoothed curve, so that single noisy dips do not switch to log.
 */
function needsLogScale(raw: Point[], smoothed: Point[]): boolean {
  if (raw.some((p) => p.y <= 0)) return false;
  let lo = Infinity;
  let hi = -Infinity;
  for (const { y } of smoothed) {
    lo = Math.min(lo, y);
    hi = Math.max(hi, y);
  }
  return hi / lo > 30;
}

/**
 * Read `<runDir>/metrics.jsonl` and write `loss.png` (raw loss and a smoothed
 * curve vs step), plus `variance.png` (target_var, pred_var; log scale) and
 * `lr.png` when those fields occur in the records. Returns the PNG paths written.
 */
export async function plotTrainingCurves(runDir: string): Promise<string[]> {
  const file = path.join(runDir, METRICS_FILE);
  const records = readMetrics(file);
  const written: string[] = [];
  const runName = path.basename(path.resolve(runDir));

  const loss = seriesOf(records, 'loss');
  if (loss.length === 0) throw new DataError(file, 'no record has a finite numeric "loss" to plot');
  const smoothed = smoothEma(loss, autoSmoothing(loss.length));
  const lossSeries: LineSeries[] = [{ name: 'loss', points: loss, strokeWidth: 1, opacity: 0.35 }];
  // With a handful of points the raw curve already is the trend.
  if (loss.length >= 5) lossSeries.push({ name: 'loss (smoothed)', points: smoothed, strokeWidth: 2.5 });
  const lossFile = path.join(runDir, 'loss.png');
  await lineChartPng(lossFile, {
    title: `Training loss — ${runName}`,
    series: lossSeries,
    xLabel: 'step',
    yLabel: 'loss',
    logY: needsLogScale(loss, smoothed),
  });
  written.push(lossFile);

  const variance: LineSeries[] = [
    { name: 'target_var', points: seriesOf(records, 'target_var') },
    { name: 'pred_var', points: seriesOf(records, 'pred_var') },
  ].filter((s) => s.points.some((p) => p.y > 0));
  if (variance.length > 0) {
    const varianceFile = path.join(runDir, 'variance.png');
    await lineChartPng(varianceFile, {
      title: `Target and prediction variance — ${runName}`,
      series: variance,
      xLabel: 'step',
      yLabel: 'variance',
      logY: true,
    });
    written.push(varianceFile);
  }

  const lr = seriesOf(records, 'lr');
  if (lr.length > 0) {
    const lrFile = path.join(runDir, 'lr.png');
    await lineChartPng(lrFile, {
      title: `Learning rate — ${runName}`,
      series: [{ name: 'lr', points: lr }],
      xLabel: 'step',
      yLabel: 'learning rate',
      yFormat: '.1e',
    });
    written.push(lrFile);
  }
  return written;
}
