/**
 * What the modality and backend registries share: a name is registered once. A second
 * registration under a taken name is refused with a PluginError naming where the first came
 * from (two copies of a package, or two plugins choosing one name, would otherwise replace each
 * other silently, the last import winning), unless the caller asks to replace it. Registering the
 * very same object again changes nothing. As onnxruntime-web's backend registry does.
 */
import { fileURLToPath } from 'node:url';
import { PluginError } from '../errors.js';

export interface RegisterOptions {
  /** Replace what is registered under this name (default false: a second registration is refused). */
  replace?: boolean;
}

/**
 * The source location (`/path/file.ts:line`) of the code that called `fn`, from a V8 stack trace;
 * undefined when the stack has no such frame.
 */
export function callerOf(fn: Function): string | undefined {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, fn);
  const frame = holder.stack?.split('\n').find((l) => /^\s+at /.test(l));
  if (!frame) return undefined;
  // "at name (file:line:col)" or, for module top level, "at file:line:col".
  const at = frame.trim().slice('at '.length);
  const m = /^(.+):(\d+):\d+$/.exec(at.endsWith(')') ? at.slice(at.lastIndexOf('(') + 1, -1) : at);
  if (!m) return undefined;
  return `${m[1]!.startsWith('file://') ? fileURLToPath(m[1]!) : m[1]}:${m[2]}`;
}

/** Named entries of one kind ('modality', 'backend'), each with where it was registered. */
export class Registrations<T> {
  private readonly items = new Map<string, T>();
  private readonly origins = new Map<string, string>();

  constructor(private readonly kind: string) {}

  get(name: string): T | undefined {
    return this.items.get(name);
  }

  has(name: string): boolean {
    return this.items.has(name);
  }

  keys(): IterableIterator<string> {
    return this.items.keys();
  }

  entries(): IterableIterator<[string, T]> {
    return this.items.entries();
  }

  /** Where `name` was registered (file:line), when the stack showed it. */
  origin(name: string): string | undefined {
    return this.origins.get(name);
  }

  /** Registers `value` under `name`; `by` says where from (a file:line, or the plugin loaded). */
  add(name: string, value: T, opts: RegisterOptions, by: string | undefined): void {
    const current = this.items.get(name);
    if (current === value) return;
    if (current !== undefined && !opts.replace) {
      const first = this.origins.get(name);
      throw new PluginError(
        `${this.kind} '${name}' is already registered${first ? ` (by ${first})` : ''}; a second ${this.kind} of that name${by ? ` (from ${by})` : ''} is refused. ` +
          `Two copies of one package, or two plugins with one name: load one of them, rename one, or register with { replace: true } to replace the first`,
      );
    }
    this.items.set(name, value);
    if (by) this.origins.set(name, by);
    else this.origins.delete(name);
  }
}
