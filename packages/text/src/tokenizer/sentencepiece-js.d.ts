/**
 * Types for sentencepiece-js 1.1 (a CommonJS bundle of SentencePiece compiled
 * to wasm, shipped without declarations). Only what d2v uses is declared.
 */
declare module 'sentencepiece-js' {
  /** The embind-wrapped C++ status object; must be deleted after use. */
  interface EmbindStatus {
    ToString(): string;
    delete(): void;
  }

  export class SentencePieceProcessor {
    /** Instantiates a fresh wasm module and loads the model from a file path (read with fs.readFileSync). Never rejects on a corrupt model. */
    load(path: string): Promise<void>;
    encodeIds(text: string): number[];
    encodePieces(text: string): string[];
    decodeIds(ids: number[]): string;
    /**
     * The underlying C++ processor (undocumented, present after `load`).
     * `status().ToString()` is "OK" only when the model loaded.
     */
    processor?: { status(): EmbindStatus };
  }

  /** Lower-cases and collapses whitespace: wrong for cased models, not used by d2v. */
  export function cleanText(text: string): string;
}
