/** Where the bundled corpus lives (relative to this package, so it works from any working directory). */
import { fileURLToPath } from 'node:url';

/** packages/speech/data/espeak-small: the small espeak-ng corpus shipped with the package. */
export function bundledCorpusDir(): string {
  return fileURLToPath(new URL('../../data/espeak-small', import.meta.url));
}

/**
 * packages/speech/data/espeak-voices: manifests (no audio of their own) for voice ID over the 8
 * voices espeak-small holds out of pretraining, 6 training and 4 test utterances per voice.
 */
export function bundledVoicesDir(): string {
  return fileURLToPath(new URL('../../data/espeak-voices', import.meta.url));
}
