/**
 * Minimal reader/writer for SentencePiece `.model` files (a serialised
 * `ModelProto` protobuf). sentencepiece-js exposes neither the vocabulary size
 * nor id -> piece, and it silently accepts corrupt files, so we read the piece
 * table ourselves: it validates the file and lets us remap ids by piece name.
 *
 * Only the fields we need are decoded; every other field is kept as raw bytes
 * so a re-serialised model is byte-identical apart from the change we make.
 */
import { DataError } from '@d2v/core';

/** `ModelProto.SentencePiece.Type`. */
export const PieceType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
export type PieceTypeValue = (typeof PieceType)[keyof typeof PieceType];

export interface ModelPiece {
  piece: string;
  score: number;
  type: PieceTypeValue;
}

export type SentencePieceModelType = 'unigram' | 'bpe' | 'word' | 'char' | 'unknown';

export interface ParsedModel {
  pieces: ModelPiece[];
  modelType: SentencePieceModelType;
  /** Top-level fields in file order, with their raw bytes (tag included). */
  fields: RawField[];
}

interface RawField {
  field: number;
  wire: number;
  /** Byte range of the whole field (tag + payload) in the source buffer. */
  start: number;
  end: number;
  /** Payload range for length-delimited fields. */
  payloadStart: number;
  payloadEnd: number;
  /** Value of varint fields (numbers above 2^53 lose precision; we only read small enums). */
  varint: number;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

class ProtoFormatError extends Error {}

function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtoFormatError('truncated varint');
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, pos];
    scale *= 128;
  }
  throw new ProtoFormatError('varint longer than 10 bytes');
}

function readFields(buf: Uint8Array, from: number, to: number): RawField[] {
  const out: RawField[] = [];
  let pos = from;
  while (pos < to) {
    const start = pos;
    const [tag, afterTag] = readVarint(buf, pos);
    pos = afterTag;
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw new ProtoFormatError(`field number 0 at byte ${start}`);
    let payloadStart = pos;
    let payloadEnd = pos;
    let varint = 0;
    if (wire === WIRE_VARINT) {
      [varint, pos] = readVarint(buf, pos);
    } else if (wire === WIRE_FIXED64) {
      pos += 8;
    } else if (wire === WIRE_FIXED32) {
      payloadEnd = pos + 4;
      pos += 4;
    } else if (wire === WIRE_LEN) {
      const [len, afterLen] = readVarint(buf, pos);
      payloadStart = afterLen;
      payloadEnd = afterLen + len;
      pos = payloadEnd;
    } else {
      throw new ProtoFormatError(`unsupported wire type ${wire} at byte ${start}`);
    }
    if (pos > to) throw new ProtoFormatError(`field ${field} runs past the end of its message (byte ${start})`);
    out.push({ field, wire, start, end: pos, payloadStart, payloadEnd, varint });
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parsePiece(buf: Uint8Array, f: RawField, index: number): ModelPiece {
  let piece: string | undefined;
  let score = 0;
  let type: number = PieceType.NORMAL;
  for (const sub of readFields(buf, f.payloadStart, f.payloadEnd)) {
    if (sub.field === 1 && sub.wire === WIRE_LEN) {
      piece = utf8.decode(buf.subarray(sub.payloadStart, sub.payloadEnd));
    } else if (sub.field === 2 && sub.wire === WIRE_FIXED32) {
      score = new DataView(buf.buffer, buf.byteOffset + sub.payloadStart, 4).getFloat32(0, true);
    } else if (sub.field === 3 && sub.wire === WIRE_VARINT) {
      type = sub.varint;
    }
  }
  if (piece === undefined || piece.length === 0) throw new ProtoFormatError(`piece ${index} has no text`);
  if (type < 1 || type > 6) throw new ProtoFormatError(`piece ${index} ('${piece}') has unknown type ${type}`);
  return { piece, score, type: type as PieceTypeValue };
}

const MODEL_TYPES: Record<number, SentencePieceModelType> = { 1: 'unigram', 2: 'bpe', 3: 'word', 4: 'char' };

/** Parses a `.model` file's bytes; throws DataError naming `file` when it is not a SentencePiece model. */
export function parseModelProto(buf: Uint8Array, file: string): ParsedModel {
  try {
    const fields = readFields(buf, 0, buf.length);
    const pieces: ModelPiece[] = [];
    let modelType: SentencePieceModelType = 'unknown';
    for (const f of fields) {
      if (f.field === 1 && f.wire === WIRE_LEN) pieces.push(parsePiece(buf, f, pieces.length));
      if (f.field === 2 && f.wire === WIRE_LEN) {
        const spec = readFields(buf, f.payloadStart, f.payloadEnd).find((s) => s.field === 3 && s.wire === WIRE_VARINT);
        // model_type defaults to UNIGRAM when absent.
        modelType = spec ? (MODEL_TYPES[spec.varint] ?? 'unknown') : 'unigram';
      }
    }
    if (pieces.length === 0) throw new ProtoFormatError('no vocabulary pieces');
    const unknowns = pieces.filter((p) => p.type === PieceType.UNKNOWN).length;
    if (unknowns !== 1) throw new ProtoFormatError(`expected exactly one <unk> piece, found ${unknowns}`);
    const seen = new Set<string>();
    for (const p of pieces) {
      if (seen.has(p.piece)) throw new ProtoFormatError(`duplicate piece '${p.piece}'`);
      seen.add(p.piece);
    }
    return { pieces, modelType, fields };
  } catch (e) {
    if (e instanceof ProtoFormatError || e instanceof TypeError) {
      throw new DataError(file, `not a valid SentencePiece model (${e.message})`, { cause: e });
    }
    throw e;
  }
}

/**
 * Returns the model bytes with piece `from` moved to the end of the piece table
 * (all later pieces shift down by one). Everything else is copied verbatim.
 */
export function movePieceToEnd(buf: Uint8Array, model: ParsedModel, from: number): Uint8Array {
  const pieceFields = model.fields.filter((f) => f.field === 1 && f.wire === WIRE_LEN);
  const moved = pieceFields[from];
  if (!moved) throw new RangeError(`piece index ${from} out of range (0..${pieceFields.length - 1})`);
  const lastPiece = pieceFields[pieceFields.length - 1]!;
  if (moved === lastPiece) return buf.slice();
  const parts: Uint8Array[] = [];
  for (const f of model.fields) {
    if (f === moved) continue;
    parts.push(buf.subarray(f.start, f.end));
    if (f === lastPiece) parts.push(buf.subarray(moved.start, moved.end));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
