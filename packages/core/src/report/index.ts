export { formatBytes, formatDuration, formatMetric, formatRate } from './format.js';
export { METRICS_FILE, MetricsLog, readMetrics } from './metrics.js';
export type { MetricRecord, MetricValue, MetricsLogOptions } from './metrics.js';
export { barChartPng, lineChartPng, plotTrainingCurves } from './plot.js';
export type { Bar, BarChartOptions, ChartFiles, LineChartOptions, LineSeries, Point } from './plot.js';
export { ProgressBar } from './progress.js';
export type { ProgressBarOptions, ProgressFields, ProgressStream } from './progress.js';
export { autoSmoothing, downsample, smoothEma } from './series.js';
