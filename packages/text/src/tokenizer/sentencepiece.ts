/**
 * SentencePiece tokenizer with d2v's fixed special-token ids.
 *
 * d2v id layout (RoBERTa's dictionary order, so fairseq-style code and
 * checkpoints agree on the specials):
 *   0 = <s>, 1 = <pad>, 2 = </s>, 3 = <unk>, 4 .. V-2 = vocabulary, V-1 = <mask>.
 * Models trained by `trainSentencePiece` have exactly this layout, so their
 * SentencePiece ids are used unchanged.
 *
 * Models trained elsewhere (e.g. SentencePiece's default <unk>=0 <s>=1 </s>=2,
 * T5's <pad>=0 </s>=1 <unk>=2, ALBERT's [CLS]/[SEP]/[MASK]) are remapped:
 *  - specials are found by piece name (<s>|[CLS], <pad>|[PAD], </s>|[SEP],
 *    <mask>|[MASK]); <unk> is the piece of type UNKNOWN whatever its name;
 *  - they take ids 0..3 and V-1 as above;
 *  - all other pieces keep their relative order and get ids 4, 5, ...;
 *  - a special the model lacks (often <pad>, always <mask> for plain models)
 *    is added as a "virtual" id that encoding never produces and decoding
 *    drops, except a virtual <mask>, which decodes to the text "<mask>".
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { SentencePieceProcessor } from 'sentencepiece-js';
import { DataError } from '@d2v/core';
import { parseModelProto, PieceType, type ModelPiece, type SentencePieceModelType } from './modelProto.js';

export const BOS_ID = 0;
export const PAD_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;

export const BOS_PIECE = '<s>';
export const PAD_PIECE = '<pad>';
export const EOS_PIECE = '</s>';
export const UNK_PIECE = '<unk>';
export const MASK_PIECE = '<mask>';

/** Names under which other toolkits store the specials. */
const SPECIAL_ALIASES = {
  bos: [BOS_PIECE, '[CLS]'],
  pad: [PAD_PIECE, '[PAD]'],
  eos: [EOS_PIECE, '[SEP]'],
  mask: [MASK_PIECE, '[MASK]'],
} as const;

/** SentencePiece marks a word start with U+2581 ("▁"). */
const WORD_START = '\u2581';

/** What packing and masking need from a tokenizer. */
export interface TokenEncoder {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly padId: number;
  readonly eosId: number;
  readonly maskId: number;
  encode(text: string): number[];
}

interface IdMap {
  /** SentencePiece id -> d2v id. */
  spmToD2v: Int32Array;
  /** d2v id -> SentencePiece id, -1 for a special the model lacks. */
  d2vToSpm: Int32Array;
}

export class SentencePieceTokenizer implements TokenEncoder {
  readonly bosId = BOS_ID;
  readonly padId = PAD_ID;
  readonly eosId = EOS_ID;
  readonly unkId = UNK_ID;
  readonly maskId: number;
  readonly vocabSize: number;
  /** True when the model's own ids differ from d2v's layout (see the module comment). */
  readonly remapped: boolean;
  readonly modelType: SentencePieceModelType;
  private readonly pieceById: string[];
  private readonly idByPiece: Map<string, number>;

  private constructor(
    readonly modelFile: string,
    private readonly sp: SentencePieceProcessor,
    pieces: ModelPiece[],
    modelType: SentencePieceModelType,
    private readonly map: IdMap | null,
  ) {
    this.modelType = modelType;
    this.remapped = map !== null;
    this.vocabSize = map ? map.d2vToSpm.length : pieces.length;
    this.maskId = this.vocabSize - 1;
    this.pieceById = new Array<string>(this.vocabSize);
    for (let id = 0; id < this.vocabSize; id++) {
      const spmId = map ? map.d2vToSpm[id]! : id;
      this.pieceById[id] = spmId >= 0 ? pieces[spmId]!.piece : virtualPieceName(id, this.maskId);
    }
    this.idByPiece = new Map(this.pieceById.map((p, id) => [p, id]));
  }

  /** Loads a SentencePiece `.model` file; DataError when it is missing or not a valid model. */
  static async load(modelFile: string): Promise<SentencePieceTokenizer> {
    const file = resolve(modelFile);
    let bytes: Uint8Array;
    try {
      if (!statSync(file).isFile()) throw new DataError(file, 'tokenizer model is not a file');
      bytes = readFileSync(file);
    } catch (e) {
      if (e instanceof DataError) throw e;
      throw new DataError(file, 'tokenizer model not found or unreadable (train one with scripts/train-tokenizer.ts)', { cause: e });
    }
    const model = parseModelProto(bytes, file);
    const sp = new SentencePieceProcessor();
    await sp.load(file);
    // sentencepiece-js ignores the load status; a model the C++ side rejects would encode everything to [].
    const status = sp.processor?.status();
    const message = status ? status.ToString() : 'processor missing after load';
    status?.delete();
    if (message !== 'OK') throw new DataError(file, `SentencePiece rejected the model: ${message}`);
    return new SentencePieceTokenizer(file, sp, model.pieces, model.modelType, buildIdMap(model.pieces));
  }

  /** Token ids of `text`, without <s>/</s> (packing adds those). */
  encode(text: string): number[] {
    const ids = this.sp.encodeIds(text);
    if (!this.map) return ids;
    const { spmToD2v } = this.map;
    for (let i = 0; i < ids.length; i++) ids[i] = spmToD2v[ids[i]!]!;
    return ids;
  }

  /** Subword pieces of `text` (for inspection). */
  encodePieces(text: string): string[] {
    return this.sp.encodePieces(text);
  }

  /**
   * Text of `ids`. <s>, </s> and <pad> decode to nothing, <unk> to " ⁇ ",
   * <mask> to "<mask>".
   */
  decode(ids: ArrayLike<number>): string {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`token id ${id} at position ${i} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    if (!this.map) return this.sp.decodeIds(Array.from(ids));
    return this.decodeRemapped(ids, this.map);
  }

  /** Decodes runs of real pieces separately, splicing in virtual <mask> tokens. */
  private decodeRemapped(ids: ArrayLike<number>, map: IdMap): string {
    let out = '';
    let run: number[] = [];
    let afterMask = false;
    const flush = () => {
      if (run.length === 0) return;
      const text = this.sp.decodeIds(run);
      // decodeIds drops the leading space of a run; restore it when the run follows a <mask>.
      const startsWord = this.pieceById[map.spmToD2v[run[0]!]!]!.startsWith(WORD_START);
      out += afterMask && startsWord ? ` ${text}` : text;
      run = [];
      afterMask = false;
    };
    for (let i = 0; i < ids.length; i++) {
      const spmId = map.d2vToSpm[ids[i]!]!;
      if (spmId >= 0) {
        run.push(spmId);
      } else if (ids[i] === this.maskId) {
        flush();
        out += MASK_PIECE;
        afterMask = true;
      }
    }
    flush();
    return out;
  }

  /** The piece string of a d2v id. */
  idToPiece(id: number): string {
    const piece = this.pieceById[id];
    if (piece === undefined) throw new RangeError(`token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    return piece;
  }

  /** The d2v id of a piece string, or undefined. */
  pieceToId(piece: string): number | undefined {
    return this.idByPiece.get(piece);
  }

  /** Ids that are structure, not text: <s>, <pad>, </s> (never selected by masking). */
  get structuralIds(): number[] {
    return [this.bosId, this.padId, this.eosId];
  }
}

function virtualPieceName(id: number, maskId: number): string {
  if (id === BOS_ID) return BOS_PIECE;
  if (id === PAD_ID) return PAD_PIECE;
  if (id === EOS_ID) return EOS_PIECE;
  if (id === maskId) return MASK_PIECE;
  throw new Error(`id ${id} has no piece`);
}

function findPiece(pieces: ModelPiece[], names: readonly string[]): number {
  for (const name of names) {
    const i = pieces.findIndex((p) => p.piece === name);
    if (i >= 0) return i;
  }
  return -1;
}

/** null when the model already uses d2v's layout; otherwise the id tables described in the module comment. */
export function buildIdMap(pieces: ModelPiece[]): IdMap | null {
  const n = pieces.length;
  const bos = findPiece(pieces, SPECIAL_ALIASES.bos);
  const pad = findPiece(pieces, SPECIAL_ALIASES.pad);
  const eos = findPiece(pieces, SPECIAL_ALIASES.eos);
  const mask = findPiece(pieces, SPECIAL_ALIASES.mask);
  const unk = pieces.findIndex((p) => p.type === PieceType.UNKNOWN);
  if (bos === BOS_ID && pad === PAD_ID && eos === EOS_ID && unk === UNK_ID && mask === n - 1) return null;

  const specialSpm = new Set([bos, pad, eos, unk, mask].filter((i) => i >= 0));
  const size = 4 + (n - specialSpm.size) + 1;
  const d2vToSpm = new Int32Array(size).fill(-1);
  const spmToD2v = new Int32Array(n).fill(-1);
  const assign = (d2v: number, spm: number) => {
    if (spm < 0) return;
    d2vToSpm[d2v] = spm;
    spmToD2v[spm] = d2v;
  };
  assign(BOS_ID, bos);
  assign(PAD_ID, pad);
  assign(EOS_ID, eos);
  assign(UNK_ID, unk);
  assign(size - 1, mask);
  let next = 4;
  for (let i = 0; i < n; i++) if (!specialSpm.has(i)) assign(next++, i);
  return { spmToD2v, d2vToSpm };
}
