/**
 * Renders a Vega-Lite spec to SVG and PNG files. Vega runs headless
 * (renderer 'none' needs no canvas); sharp rasterises the SVG. Both are
 * loaded on first use so that importing @d2v/core stays fast for code that never plots.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { ConfigError, D2vError } from '../errors.js';

export interface ChartFiles {
  png: string;
  svg: string;
}

/** Rasterise at 2x so text stays crisp when the PNG is viewed in a browser or a report. */
const PNG_DENSITY = 144;

/** Shared look: white background (PNG viewers show transparency as black or checkers) and readable text. */
export const CHART_CONFIG = {
  background: 'white',
  padding: 12,
  config: {
    font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
    title: { fontSize: 16, anchor: 'start', offset: 12 },
    axis: { labelFontSize: 12, titleFontSize: 13, gridColor: '#e6e6e6' },
    // Faint raw series would otherwise give faint legend swatches for every series.
    legend: { labelFontSize: 12, titleFontSize: 12, symbolStrokeWidth: 3, symbolOpacity: 1 },
    view: { stroke: '#cccccc' },
  },
} as const;

/** `runs/x/loss.png` -> `runs/x/loss.svg`. */
export function svgPathFor(pngFile: string): string {
  if (path.extname(pngFile).toLowerCase() !== '.png') {
    throw new ConfigError(`chart file must end in .png, got ${pngFile}`, 'file');
  }
  return pngFile.slice(0, -'.png'.length) + '.svg';
}

export async function renderChart(pngFile: string, spec: TopLevelSpec): Promise<ChartFiles> {
  const svgFile = svgPathFor(pngFile);
  const [vega, vegaLite, { default: sharp }] = await Promise.all([import('vega'), import('vega-lite'), import('sharp')]);
  let svg: string;
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    svg = await view.toSVG();
  } catch (error) {
    throw new D2vError('PLOT', `${pngFile}: rendering the chart failed: ${(error as Error).message}`, { cause: error });
  } finally {
    view.finalize();
  }
  await fs.mkdir(path.dirname(pngFile), { recursive: true });
  await fs.writeFile(svgFile, svg);
  await sharp(Buffer.from(svg), { density: PNG_DENSITY }).png().toFile(pngFile);
  return { png: pngFile, svg: svgFile };
}
