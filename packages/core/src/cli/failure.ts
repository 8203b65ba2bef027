/**
 * How the `d2v` command reports a failure: one or two lines (what failed, which file or option,
 * what to do) and an exit code per kind of failure. The codes are documented in the core README
 * ("Exit codes"); scripts may rely on them.
 */
import { D2vError, asFileSystemError } from '../errors.js';

export const EXIT = {
  ok: 0,
  /** Not a d2v error: a bug in d2v, a plugin or a library (the stack shows with --verbose). */
  internal: 1,
  /** Bad command line or config: unknown command or option, value out of range, --out already used. */
  usage: 2,
  /** A data file is missing, unreadable or malformed. */
  data: 3,
  /** A checkpoint is missing, corrupt or does not match the run (e.g. a --resume that changes the model). */
  checkpoint: 4,
  /** Writing or reading a file failed: disk full, no permission, read-only file system. */
  io: 5,
  /** The backend, a modality plugin or a worker thread could not start or failed. */
  environment: 6,
  /** Training stopped on purpose: it diverged (NaN/Infinity) or collapsed. */
  stopped: 8,
} as const;

/** D2vError codes -> exit codes; a code not listed is an internal error. */
const EXIT_OF_CODE: Record<string, number> = {
  CONFIG: EXIT.usage,
  DATA: EXIT.data,
  CHECKPOINT: EXIT.checkpoint,
  IO: EXIT.io,
  BACKEND: EXIT.environment,
  PLUGIN: EXIT.environment,
  WORKER: EXIT.environment,
  DIVERGED: EXIT.stopped,
  COLLAPSED: EXIT.stopped,
};

/** Longest message printed for an error that is not d2v's own (minified library code can throw 40 KB lines). */
const MAX_FOREIGN_MESSAGE = 300;

export interface Failure {
  exitCode: number;
  /** What to print: one or two lines. */
  lines: string[];
  /** The stack trace(s), for --verbose / D2V_DEBUG=1. */
  stack: string;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, '; ').trim();

function stackOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(depth === 0 ? '' : 'caused by:', e instanceof Error ? (e.stack ?? String(e)) : String(e));
  }
  return parts.filter(Boolean).join('\n');
}

/** The lines and exit code for anything `main` threw. */
export function describeFailure(thrown: unknown): Failure {
  const err = asFileSystemError(thrown);
  if (err instanceof D2vError) {
    return { exitCode: EXIT_OF_CODE[err.code] ?? EXIT.internal, lines: [`d2v: ${err.name}: ${oneLine(err.message)}`], stack: stackOf(thrown) };
  }
  const name = err instanceof Error ? err.name : typeof err;
  let message = oneLine(err instanceof Error ? err.message : String(err));
  if (message.length > MAX_FOREIGN_MESSAGE) message = `${message.slice(0, MAX_FOREIGN_MESSAGE)}… (${message.length} characters)`;
  return {
    exitCode: EXIT.internal,
    lines: [`d2v: internal error: ${name}: ${message}`, 'd2v: this is a bug in d2v, a modality plugin or a library; rerun with --verbose (or D2V_DEBUG=1) for the stack trace and report it'],
    stack: stackOf(thrown),
  };
}
