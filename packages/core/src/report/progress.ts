/**
 * A progress line for long loops (training steps, dataset preparation).
 * On a terminal it redraws a single line in place; in CI logs and files it
 * prints a plain line every `plainEvery` steps so logs stay readable.
 */
import { ConfigError } from '../errors.js';
import { formatDuration, formatMetric, formatRate } from './format.js';

/** The part of a Writable that the bar needs; a fake one is enough in tests. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** Terminal width, present on TTY streams. */
  columns?: number;
}

export interface ProgressBarOptions {
  /** Step count at which the loop is done. */
  total: number;
  /** Name shown at the start of each line, e.g. `pretrain`. */
  label?: string;
  stream?: ProgressStream;
  /** Redraw in place (true) or print plain lines (false). Default: `stream.isTTY`. */
  isTTY?: boolean;
  /** Non-TTY: print a line every this many steps (and at the last step). Default: total/20. */
  plainEvery?: number;
  /** Unit of the per-update `items` count, e.g. `img` or `tok`. Default `it`. */
  unit?: string;
  /** Step the loop starts from, e.g. when resuming; timing counts only steps after it. */
  startStep?: number;
  /** Clock in milliseconds; injectable for tests. Default `performance.now`. */
  now?: () => number;
  /** Weight of the past in the step-time average (0 = last step only). Default 0.9. */
  smoothing?: number;
  /** TTY: minimum milliseconds between redraws, so fast loops do not flood the terminal. Default 100. */
  redrawMs?: number;
  /** TTY: maximum line width. Default `stream.columns` (when positive) or 100. */
  width?: number;
}

export type ProgressFields = Record<string, number | string>;

const BAR_WIDTH = 20;

/** Exponential moving average with bias correction, so the first values are not pulled toward 0. */
class SmoothedValue {
  private ema = 0;
  private weightSum = 0;
  constructor(private readonly smoothing: number) {}
  add(value: number): void {
    this.ema = this.smoothing * this.ema + (1 - this.smoothing) * value;
    this.weightSum = this.smoothing * this.weightSum + (1 - this.smoothing);
  }
  get value(): number {
    return this.weightSum > 0 ? this.ema / this.weightSum : NaN;
  }
}

export class ProgressBar {
  readonly total: number;
  private readonly label: string;
  private readonly stream: ProgressStream;
  private readonly isTTY: boolean;
  private readonly plainEvery: number;
  private readonly unit: string;
  private readonly now: () => number;
  private readonly redrawMs: number;
  private readonly width: number;
  private readonly startTime: number;
  private readonly startStep: number;
  private readonly secondsPerStep: SmoothedValue;
  private readonly itemsPerStep: SmoothedValue;

  private step: number;
  private fields: ProgressFields = {};
  private lastTime: number;
  private itemsTotal = 0;
  private sawItems = false;
  private lastPrintedStep = -1;
  private lastDrawTime = -Infinity;
  private finished = false;

  constructor(options: ProgressBarOptions) {
    const { total } = options;
    if (!Number.isInteger(total) || total <= 0) {
      throw new ConfigError(`ProgressBar: total must be a positive integer, got ${total}`, 'total');
    }
    const smoothing = options.smoothing ?? 0.9;
    if (!(smoothing >= 0 && smoothing < 1)) {
      throw new ConfigError(`ProgressBar: smoothing must be in [0, 1), got ${smoothing}`, 'smoothing');
    }
    const plainEvery = options.plainEvery ?? Math.max(1, Math.ceil(total / 20));
    if (!Number.isInteger(plainEvery) || plainEvery <= 0) {
      throw new ConfigError(`ProgressBar: plainEvery must be a positive integer, got ${plainEvery}`, 'plainEvery');
    }
    this.total = total;
    this.label = options.label ?? '';
    this.stream = options.stream ?? process.stderr;
    this.isTTY = options.isTTY ?? this.stream.isTTY === true;
    this.plainEvery = plainEvery;
    this.unit = options.unit ?? 'it';
    this.now = options.now ?? (() => performance.now());
    this.redrawMs = options.redrawMs ?? 100;
    // A terminal can report 0 columns (e.g. a pseudo-terminal whose size was never set): treat that as unknown.
    const columns = this.stream.columns !== undefined && this.stream.columns > 0 ? this.stream.columns : undefined;
    this.width = Math.max(20, options.width ?? columns ?? 100);
    this.startStep = options.startStep ?? 0;
    this.step = this.startStep;
    this.secondsPerStep = new SmoothedValue(smoothing);
    this.itemsPerStep = new SmoothedValue(smoothing);
    this.startTime = this.now();
    this.lastTime = this.startTime;
  }

  /**
   * Record that `step` steps are complete. `fields` (loss, lr, ...) are shown
   * as given; `items` is how many items (images, tokens) were processed since
   * the previous update and drives the throughput figure.
   */
  update(step: number, fields: ProgressFields = {}, items?: number): void {
    if (this.finished) return;
    const time = this.now();
    const steps = step - this.step;
    // Timing only advances when steps do; a repeated step just refreshes the fields.
    if (steps > 0) {
      const seconds = (time - this.lastTime) / 1000;
      this.secondsPerStep.add(seconds / steps);
      if (items !== undefined) {
        this.itemsPerStep.add(items / steps);
        this.sawItems = true;
      }
      this.lastTime = time;
    }
    if (items !== undefined) this.itemsTotal += items;
    this.step = step;
    this.fields = fields;

    if (this.isTTY) {
      if (time - this.lastDrawTime >= this.redrawMs || step >= this.total) this.redraw(time);
    } else if (step % this.plainEvery === 0 || step >= this.total) {
      this.printPlain();
    }
  }

  /** Print a message above the bar without garbling it. */
  log(message: string): void {
    if (this.isTTY && !this.finished) {
      this.stream.write(`\r\x1b[K${message}\n`);
      this.redraw(this.now());
    } else {
      this.stream.write(`${message}\n`);
    }
  }

  /** Write the final line (total time and average throughput). Later updates are ignored. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const elapsed = (this.now() - this.startTime) / 1000;
    const done = this.step - this.startStep;
    const rate = this.sawItems ? this.itemsTotal / elapsed : done / elapsed;
    const summary = `done in ${formatDuration(elapsed)}, ${formatRate(rate, this.sawItems ? this.unit : 'step')} avg`;
    const line = this.compose(summary, this.isTTY);
    this.stream.write(this.isTTY ? `\r${this.fit(line)}\x1b[K\n` : `${line}\n`);
  }

  /** Current smoothed throughput in items (or steps, if no items were passed) per second. */
  get rate(): number {
    const secondsPerStep = this.secondsPerStep.value;
    return this.sawItems ? this.itemsPerStep.value / secondsPerStep : 1 / secondsPerStep;
  }

  /** Estimated seconds until `total`, from the smoothed step time. NaN before the first timed step. */
  get etaSeconds(): number {
    return Math.max(0, this.total - this.step) * this.secondsPerStep.value;
  }

  private redraw(time: number): void {
    this.lastDrawTime = time;
    this.stream.write(`\r${this.fit(this.compose(this.timing(), true))}\x1b[K`);
  }

  private printPlain(): void {
    if (this.step === this.lastPrintedStep) return;
    this.lastPrintedStep = this.step;
    this.stream.write(`${this.compose(this.timing(), false)}\n`);
  }

  private timing(): string {
    const elapsed = (this.now() - this.startTime) / 1000;
    const rate = formatRate(this.rate, this.sawItems ? this.unit : 'step');
    return `${rate} | elapsed ${formatDuration(elapsed)} eta ${formatDuration(this.etaSeconds)}`;
  }

  /** Counts and timing come before the fields so that width-limiting cuts the fields first. */
  private compose(timing: string, withBar: boolean): string {
    const fraction = Math.min(1, Math.max(0, this.step / this.total));
    const percent = `${(fraction * 100).toFixed(withBar ? 0 : 1)}%`;
    const parts: string[] = [];
    if (this.label) parts.push(this.label);
    if (withBar) {
      const filled = Math.round(fraction * BAR_WIDTH);
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`);
    }
    parts.push(`${this.step}/${this.total} (${percent})`);
    let line = `${parts.join(' ')} | ${timing}`;
    const fields = Object.entries(this.fields).map(([key, value]) => `${key}=${formatMetric(value)}`);
    if (fields.length > 0) line += ` | ${fields.join(' ')}`;
    return line;
  }

  /** One column short of the width: writing the last column makes some terminals wrap. */
  private fit(line: string): string {
    const max = this.width - 1;
    return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
  }
}
