import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../src/errors.js';
import { formatBytes, formatDuration, formatMetric, formatRate } from '../src/report/format.js';
import { MetricsLog, readMetrics } from '../src/report/metrics.js';
import { barChartPng, lineChartPng, plotTrainingCurves } from '../src/report/plot.js';
import { ProgressBar } from '../src/report/progress.js';
import { svgPathFor } from '../src/report/render.js';
import { downsample, smoothEma } from '../src/report/series.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'd2v-report-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (): string => path.join(tmpRoot, `run${dirCount++}`);

/** Collects what the bar writes; stands in for process.stderr. */
function fakeStream(isTTY = false, columns?: number) {
  const chunks: string[] = [];
  return { chunks, isTTY, columns, write: (chunk: string) => chunks.push(chunk), text: () => chunks.join('') };
}

/** A clock the test advances by hand, in milliseconds. */
function fakeClock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('format', () => {
  it('formats durations at each scale', () => {
    expect(formatDuration(0.42)).toBe('0.42s');
    expect(formatDuration(4.24)).toBe('4.2s');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(2 * 3600 + 3 * 60 + 10)).toBe('2h03m');
    expect(formatDuration(26 * 3600)).toBe('1d02h');
    expect(formatDuration(-5)).toBe('-5.0s');
    expect(formatDuration(NaN)).toBe('--');
  });

  it('formats rates, bytes and metric values', () => {
    expect(formatRate(85.31, 'img')).toBe('85.3 img/s');
    expect(formatRate(12_400, 'tok')).toBe('12.4k tok/s');
    expect(formatRate(0.5, 'img')).toBe('0.50 img/s');
    expect(formatRate(Infinity, 'img')).toBe('-- img/s');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(23.4 * 2 ** 20)).toBe('23.4 MiB');
    expect(formatBytes(3 * 2 ** 30)).toBe('3.0 GiB');
    expect(formatMetric(3e-4)).toBe('3.00e-4');
    expect(formatMetric(0.5)).toBe('0.5000');
    expect(formatMetric(12)).toBe('12');
    expect(formatMetric(NaN)).toBe('NaN');
    expect(formatMetric('warmup')).toBe('warmup');
  });
});

describe('ProgressBar', () => {
  it('prints plain lines every plainEvery steps and at the last step when not a TTY', () => {
    const stream = fakeStream(false);
    const clock = fakeClock();
    const bar = new ProgressBar({ total: 10, label: 'train', stream, plainEvery: 4, unit: 'img', now: clock.now });
    for (let step = 1; step <= 10; step++) {
      clock.advance(100);
      bar.update(step, { loss: 0.5, lr: 3e-4 }, 32);
    }
    bar.finish();
    const lines = stream.text().split('\n').filter((l) => l !== '');
    expect(stream.text()).not.toContain('\r');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('train 4/10 (40.0%) | 320 img/s | elapsed 0.40s eta 0.60s | loss=0.5000 lr=3.00e-4');
    expect(lines[1]).toContain('8/10 (80.0%)');
    expect(lines[2]).toContain('10/10 (100.0%)');
    expect(lines[2]).toContain('eta 0.00s');
    expect(lines[3]).toBe('train 10/10 (100.0%) | done in 1.0s, 320 img/s avg | loss=0.5000 lr=3.00e-4');
  });

  it('derives ETA from a smoothed step time and throughput from items per update', () => {
    const stream = fakeStream(false);
    const clock = fakeClock();
    const bar = new ProgressBar({ total: 10, stream, smoothing: 0.5, unit: 'tok', now: clock.now });
    for (let step = 1; step <= 3; step++) {
      clock.advance(100);
      bar.update(step, {}, 50);
    }
    clock.advance(500);
    bar.update(4, {}, 50);
    // Bias-corrected EMA of 0.1, 0.1, 0.1, 0.5 s with weight 0.5 on the past = 0.29375 / 0.9375.
    const secondsPerStep = 0.29375 / 0.9375;
    expect(bar.etaSeconds).toBeCloseTo(6 * secondsPerStep, 10);
    expect(bar.rate).toBeCloseTo(50 / secondsPerStep, 8);

    // An update that covers several steps is timed per step.
    const jumpy = new ProgressBar({ total: 100, stream, smoothing: 0, now: clock.now });
    clock.advance(1000);
    jumpy.update(20, {}, 640);
    expect(jumpy.etaSeconds).toBeCloseTo(80 * 0.05, 10);
    expect(jumpy.rate).toBeCloseTo(640, 8);
  });

  it('counts steps per second when no items are passed, and reports an unknown ETA before the first step', () => {
    const stream = fakeStream(false);
    const clock = fakeClock();
    const bar = new ProgressBar({ total: 4, stream, plainEvery: 1, now: clock.now });
    expect(Number.isNaN(bar.etaSeconds)).toBe(true);
    clock.advance(250);
    bar.update(1);
    expect(stream.text()).toBe('1/4 (25.0%) | 4.00 step/s | elapsed 0.25s eta 0.75s\n');
  });

  it('redraws a single width-limited line with \\r on a TTY', () => {
    const stream = fakeStream(true, 60);
    const clock = fakeClock();
    const bar = new ProgressBar({ total: 50, label: 'pretrain', stream, now: clock.now, redrawMs: 100 });
    for (let step = 1; step <= 50; step++) {
      clock.advance(20);
      bar.update(step, { loss: 1 / step, target_var: 0.25, note: 'a long field that will not fit' }, 8);
    }
    const drawsBeforeFinish = stream.chunks.length;
    // 20 ms per step with a 100 ms redraw interval: about one draw every 5 steps, plus the last.
    expect(drawsBeforeFinish).toBeGreaterThanOrEqual(9);
    expect(drawsBeforeFinish).toBeLessThanOrEqual(12);
    bar.finish();
    for (const chunk of stream.chunks) {
      expect(chunk.startsWith('\r')).toBe(true);
      const visible = chunk.replace('\r', '').replace('\x1b[K', '').replace('\n', '');
      expect(visible.length).toBeLessThanOrEqual(59);
    }
    expect(stream.chunks.slice(0, -1).join('')).not.toContain('\n');
    expect(stream.chunks.at(-1)!.endsWith('\n')).toBe(true);
    expect(stream.chunks[0]).toContain('\x1b[K');
    expect(stream.chunks.at(-2)).toContain('pretrain [####################] 50/50');
    // Later updates are ignored once finished.
    bar.update(50, { loss: 0 });
    expect(stream.chunks.length).toBe(drawsBeforeFinish + 1);
  });

  it('prints log messages above the TTY bar and redraws it', () => {
    const stream = fakeStream(true, 80);
    const clock = fakeClock();
    const bar = new ProgressBar({ total: 5, stream, now: clock.now });
    clock.advance(100);
    bar.update(1, { loss: 2 });
    bar.log('checkpoint saved');
    expect(stream.chunks.at(-2)).toBe('\r\x1b[Kcheckpoint saved\n');
    expect(stream.chunks.at(-1)).toMatch(/^\r.*1\/5/);
  });

  it('a terminal reporting 0 columns gets the default width, not a 20-column stub', () => {
    const stream = fakeStream(true, 0);
    const clock = fakeClock();
    const bar = new ProgressBar({ total: 10, label: 'pretrain', stream, now: clock.now });
    clock.advance(100);
    bar.update(1, { loss: 2 });
    const visible = stream.chunks.at(-1)!.replace('\r', '').replace('\x1b[K', '');
    expect(visible).toMatch(/^pretrain \[##-+\] 1\/10 \(10%\) \| .*eta .* \| loss=2/);
    expect(visible.length).toBeLessThanOrEqual(99);
  });

  it('rejects a bad total or plainEvery', () => {
    expect(() => new ProgressBar({ total: 0, stream: fakeStream() })).toThrow(ConfigError);
    expect(() => new ProgressBar({ total: 10, plainEvery: 0, stream: fakeStream() })).toThrow(ConfigError);
  });
});

describe('MetricsLog', () => {
  it('round-trips records, including non-finite numbers and strings', () => {
    const dir = freshDir();
    const log = new MetricsLog(dir);
    log.log({ step: 1, loss: 0.75, lr: 1e-4, phase: 'warmup' });
    log.log({ step: 2, loss: NaN, grad_norm: Infinity, ok: false, note: null });
    // Each line is on disk before close(): a crash right now would lose nothing.
    expect(fs.readFileSync(log.file, 'utf8').split('\n')).toHaveLength(3);
    log.close();
    const records = readMetrics(path.join(dir, 'metrics.jsonl'));
    expect(records).toHaveLength(2);
    expect(records[0]).toEqual({ step: 1, loss: 0.75, lr: 1e-4, phase: 'warmup' });
    expect(Number.isNaN(records[1].loss)).toBe(true);
    expect(records[1].grad_norm).toBe(Infinity);
    expect(records[1].ok).toBe(false);
    expect(records[1].note).toBeNull();
  });

  it('tolerates a truncated last line but not a corrupt middle line', () => {
    const dir = freshDir();
    const file = path.join(dir, 'metrics.jsonl');
    fs.mkdirSync(dir);
    fs.writeFileSync(file, '{"step":1,"loss":1}\n{"step":2,"loss":0.9}\n{"step":3,"lo');
    expect(readMetrics(file).map((r) => r.step)).toEqual([1, 2]);
    // A last record that is complete but lacks its newline still counts.
    fs.writeFileSync(file, '{"step":1,"loss":1}\n{"step":2,"loss":0.9}');
    expect(readMetrics(file).map((r) => r.step)).toEqual([1, 2]);

    fs.writeFileSync(file, '{"step":1}\n{"step":2,"lo\n{"step":3}\n');
    expect(() => readMetrics(file)).toThrow(DataError);
    expect(() => readMetrics(file)).toThrow(/metrics\.jsonl: line 2 is not valid JSON/);
    fs.writeFileSync(file, '{"step":1}\n{"loss":2}\n');
    expect(() => readMetrics(file)).toThrow(/line 2 has no numeric "step"/);
    expect(() => readMetrics(path.join(dir, 'missing.jsonl'))).toThrow(DataError);
  });

  it('drops a half-written line before appending after a crash', () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '{"step":1,"loss":1}\n{"step":2,"lo');
    const log = new MetricsLog(dir);
    log.log({ step: 2, loss: 0.8 });
    log.close();
    expect(readMetrics(log.file)).toEqual([
      { step: 1, loss: 1 },
      { step: 2, loss: 0.8 },
    ]);
  });

  it('truncateAfter drops later steps so a resumed run logs no duplicates', () => {
    const dir = freshDir();
    const log = new MetricsLog(dir);
    for (let step = 1; step <= 10; step++) log.log({ step, loss: 1 / step });
    expect(log.truncateAfter(5)).toBe(5);
    for (let step = 6; step <= 8; step++) log.log({ step, loss: 2 / step });
    log.close();
    const records = readMetrics(log.file);
    expect(records.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(records[6].loss).toBeCloseTo(2 / 7, 12);
    // Reopening appends; overwrite starts afresh.
    const resumed = new MetricsLog(dir);
    resumed.log({ step: 9, loss: 0.1 });
    resumed.close();
    expect(readMetrics(log.file)).toHaveLength(9);
    const fresh = new MetricsLog(dir, { overwrite: true });
    fresh.log({ step: 1, loss: 3 });
    fresh.close();
    expect(readMetrics(log.file)).toEqual([{ step: 1, loss: 3 }]);
  });

  it('rejects records without a step and writes after close', () => {
    const log = new MetricsLog(freshDir());
    expect(() => log.log({ loss: 1 } as never)).toThrow(DataError);
    log.close();
    expect(() => log.log({ step: 1 })).toThrow(/after close/);
  });
});

describe('series helpers', () => {
  it('smooths without pulling early values toward zero', () => {
    const flat = smoothEma([1, 2, 3, 4].map((x) => ({ x, y: 5 })), 0.9);
    for (const p of flat) expect(p.y).toBeCloseTo(5, 12);
    const step = smoothEma([{ x: 0, y: 0 }, { x: 1, y: 10 }], 0.5);
    expect(step[1].y).toBeCloseTo(10 * 0.5 / 0.75, 12);
  });

  it('thins long series but keeps spikes', () => {
    const points = Array.from({ length: 10_000 }, (_, x) => ({ x, y: x === 4321 ? 100 : Math.sin(x / 50) }));
    const thin = downsample(points, 500);
    expect(thin.length).toBeLessThanOrEqual(500);
    expect(thin.length).toBeGreaterThan(400);
    expect(thin.some((p) => p.x === 4321 && p.y === 100)).toBe(true);
    for (let i = 1; i < thin.length; i++) expect(thin[i].x).toBeGreaterThan(thin[i - 1].x);
    expect(downsample(points.slice(0, 10), 500)).toHaveLength(10);
  });
});

async function expectPng(file: string): Promise<void> {
  const meta = await sharp(file).metadata();
  expect(meta.format).toBe('png');
  expect(meta.width).toBeGreaterThan(0);
  expect(meta.height).toBeGreaterThan(0);
}

describe('plots', () => {
  it('writes a line chart as PNG with an SVG beside it', async () => {
    const file = path.join(freshDir(), 'curves.png');
    const points = (f: (x: number) => number) => Array.from({ length: 50 }, (_, x) => ({ x, y: f(x) }));
    const out = await lineChartPng(file, {
      title: 'Two curves test',
      series: [
        { name: 'decay', points: points((x) => Math.exp(-x / 10)) },
        { name: 'flat', points: points(() => 0.5), dashed: true },
      ],
      xLabel: 'step',
      yLabel: 'value',
    });
    expect(out).toEqual({ png: file, svg: file.replace(/\.png$/, '.svg') });
    await expectPng(file);
    const svg = fs.readFileSync(out.svg, 'utf8');
    expect(svg).toContain('<svg');
    expect(svg).toContain('Two curves test');
    // Two series get a legend.
    expect(svg).toContain('decay');
    expect(svg).toContain('flat');
  });

  it('refuses a log-scale chart with nothing positive to draw and a non-PNG path', async () => {
    const file = path.join(freshDir(), 'empty.png');
    await expect(
      lineChartPng(file, { title: 't', series: [{ name: 'a', points: [{ x: 1, y: 0 }, { x: 2, y: -1 }] }], xLabel: 'x', yLabel: 'y', logY: true }),
    ).rejects.toThrow(ConfigError);
    expect(fs.existsSync(file)).toBe(false);
    expect(() => svgPathFor('chart.jpg')).toThrow(ConfigError);
  });

  it('writes a grouped bar chart with error bars', async () => {
    const file = path.join(freshDir(), 'bars.png');
    const out = await barChartPng(file, {
      title: 'Probe accuracy test',
      yLabel: 'accuracy',
      bars: [
        { label: 'random', value: 0.2, error: 0.02, group: 'A' },
        { label: 'random', value: 0.1, group: 'B' },
        { label: 'data2vec', value: 0.5, error: 0.03, group: 'A' },
        { label: 'data2vec', value: 0.3, error: 0.01, group: 'B' },
      ],
    });
    await expectPng(file);
    const svg = fs.readFileSync(out.svg, 'utf8');
    expect(svg).toContain('Probe accuracy test');
    expect(svg).toContain('data2vec');
    await expect(barChartPng(file, { title: 't', yLabel: 'y', bars: [{ label: 'a', value: NaN }] })).rejects.toThrow(ConfigError);
  });

  it('plots training curves from metrics.jsonl', async () => {
    const dir = freshDir();
    const log = new MetricsLog(dir);
    for (let step = 1; step <= 40; step++) {
      log.log({ step, loss: 1 / Math.sqrt(step), lr: 1e-3 * Math.min(1, step / 10), target_var: 0.5, pred_var: 0.4 / step });
    }
    // An eval-style record without training fields must not break the curves.
    log.log({ step: 40, probe_acc: 0.3 });
    log.close();
    const written = await plotTrainingCurves(dir);
    expect(written.map((f) => path.basename(f))).toEqual(['loss.png', 'variance.png', 'lr.png']);
    for (const file of written) await expectPng(file);
    const lossSvg = fs.readFileSync(path.join(dir, 'loss.svg'), 'utf8');
    expect(lossSvg).toContain('Training loss');
    expect(lossSvg).toContain('loss (smoothed)');
    expect(fs.readFileSync(path.join(dir, 'variance.svg'), 'utf8')).toContain('pred_var');
  });

  it('writes only the loss chart when variance and lr are absent, and fails without loss', async () => {
    const dir = freshDir();
    const log = new MetricsLog(dir);
    for (let step = 1; step <= 3; step++) log.log({ step, loss: 3 - step });
    log.close();
    expect((await plotTrainingCurves(dir)).map((f) => path.basename(f))).toEqual(['loss.png']);
    expect(fs.existsSync(path.join(dir, 'variance.png'))).toBe(false);

    const empty = freshDir();
    const noLoss = new MetricsLog(empty);
    noLoss.log({ step: 1, lr: 1e-4 });
    noLoss.close();
    await expect(plotTrainingCurves(empty)).rejects.toThrow(/no record has a finite numeric "loss"/);
  });
});
