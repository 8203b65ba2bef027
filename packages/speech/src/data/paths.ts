/** Where the bundled corpus lives (relative to this package, so it works from any working directory). */
import { fileURLToPath } from 'node:url';

/** packages/speech/data/espeak-small: the small espeak-ng corpus shipped with the package. */
export function bundledCorpusDir(): string {
  return fileURLToPath(new URL('../../data/espeak-small', import.meta.url));
}
