/**
 * Typed errors: every failure a user can cause says what went wrong and where
 * (file, key, step), so it can be caught by class and printed as is.
 */
export class D2vError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option or config key is unknown, mistyped or out of range. */
export class ConfigError extends D2vError {
  constructor(message: string, readonly key?: string) {
    super('CONFIG', message);
  }
}

/** A data file is missing, corrupt or malformed. Always names the file. */
export class DataError extends D2vError {
  constructor(readonly file: string, problem: string, options?: { cause?: unknown }) {
    super('DATA', `${file}: ${problem}`, options);
  }
}

/** A checkpoint is missing, corrupt, or does not match the run's config. */
export class CheckpointError extends D2vError {
  constructor(readonly file: string, problem: string, options?: { cause?: unknown }) {
    super('CHECKPOINT', `${file}: ${problem}`, options);
  }
}

/** A requested TensorFlow.js backend is not installed or failed to start. */
export class BackendError extends D2vError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BACKEND', message, options);
  }
}

/** A modality plugin could not be found or does not satisfy the Modality interface. */
export class PluginError extends D2vError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PLUGIN', message, options);
  }
}

/** Loss became NaN/Inf: the run stops, the last good checkpoint is left intact. */
export class DivergenceError extends D2vError {
  constructor(readonly step: number, message: string) {
    super('DIVERGED', message);
  }
}

/** Target or prediction variance fell under the collapse thresholds after warm-up. */
export class CollapseError extends D2vError {
  constructor(readonly step: number, message: string) {
    super('COLLAPSED', message);
  }
}

/** A tensor has the wrong shape or dtype for an operation. */
export class ShapeError extends D2vError {
  constructor(message: string) {
    super('SHAPE', message);
  }
}

/** Reading or writing a file or folder failed (disk full, no permission, read-only, a file where a folder must be). Names the path. */
export class FileSystemError extends D2vError {
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super('IO', `${file}: ${problem}`, options);
  }
}

/** What a file-system error code means for the user, and what to do about it. */
const ERRNO_PROBLEMS: Record<string, string> = {
  ENOSPC: 'no space left on the device: free some space, or write the run elsewhere with --out',
  EDQUOT: 'disk quota exceeded: free some space, or write the run elsewhere with --out',
  EACCES: 'permission denied: fix the permissions, or write the run elsewhere with --out',
  EPERM: 'operation not permitted: fix the permissions, or write the run elsewhere with --out',
  EROFS: 'the file system is read-only: write the run elsewhere with --out',
  ENOTDIR: 'a part of this path is a file, not a folder',
  EISDIR: 'is a folder where a file was expected',
  ENOENT: 'does not exist',
  EEXIST: 'already exists',
  EMFILE: 'too many open files: raise the limit (ulimit -n)',
  EIO: 'input/output error: the disk may be failing',
};

/**
 * A Node.js file-system error (an Error with a `code` such as 'ENOSPC') as a FileSystemError naming
 * `path` (the file the caller was writing, as the user knows it; a write to an open file carries
 * no path of its own), else the error's own path. Other values come back unchanged.
 */
export function asFileSystemError(err: unknown, path?: string): unknown {
  if (err instanceof D2vError || !(err instanceof Error)) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code !== 'string' || !/^E[A-Z]+$/.test(e.code)) return err;
  const problem = ERRNO_PROBLEMS[e.code] ?? e.message.split('\n')[0]!;
  return new FileSystemError(path ?? e.path ?? '(unknown file)', `${problem} (${e.code}${e.syscall ? ` in ${e.syscall}` : ''})`, { cause: err });
}
