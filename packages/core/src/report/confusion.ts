/**
 * A confusion matrix as a heat map (true class down, predicted class across, counts in the cells),
 * written as PNG with an SVG beside it, like the other charts.
 */
import type { TopLevelSpec } from 'vega-lite';
import { ConfigError } from '../errors.js';
import { CHART_CONFIG, renderChart, type ChartFiles } from './render.js';

export interface ConfusionChartOptions {
  title: string;
  /** Class names in id order. */
  classes: readonly string[];
  /** matrix[true][predicted] counts, classes x classes. */
  matrix: readonly (readonly number[])[];
}

export async function confusionMatrixPng(file: string, options: ConfusionChartOptions): Promise<ChartFiles> {
  const { title, classes, matrix } = options;
  const k = classes.length;
  if (k === 0 || matrix.length !== k || matrix.some((row) => row.length !== k)) {
    throw new ConfigError(`${file}: confusion matrix must be ${k} x ${k} for ${k} classes (got ${matrix.length} rows)`);
  }
  // Rows are normalised for the colour (share of each true class), so small classes read as well as big ones.
  const values = matrix.flatMap((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count, p) => ({ truth: classes[t]!, predicted: classes[p]!, count, share: total > 0 ? count / total : 0 }));
  });
  const cell = Math.max(14, Math.min(40, Math.floor(560 / k)));
  const axis = { labelLimit: 240, labelFontSize: k > 20 ? 9 : 12 };
  const spec: TopLevelSpec = {
    ...CHART_CONFIG,
    title,
    width: cell * k,
    height: cell * k,
    data: { values },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: [...classes], title: 'predicted', axis: { ...axis, labelAngle: -45, orient: 'top' } },
      y: { field: 'truth', type: 'nominal', sort: [...classes], title: 'true class', axis },
    },
    layer: [
      {
        mark: { type: 'rect' },
        encoding: {
          color: { field: 'share', type: 'quantitative', scale: { range: ['#ffffff', '#08519c'], interpolate: 'rgb', domain: [0, 1] }, legend: { title: 'share of row', format: '.0%' } },
        },
      },
      {
        transform: [{ filter: 'datum.count > 0' }],
        mark: { type: 'text', fontSize: k > 20 ? 8 : 11 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: '#333333' },
        },
      },
    ],
  };
  return renderChart(file, spec);
}
