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
