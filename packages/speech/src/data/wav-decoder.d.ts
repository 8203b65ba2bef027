// Types for wav-decoder 1.3 (the package ships none).
declare module 'wav-decoder' {
  export interface DecodeOptions {
    /** Scale integer PCM by 2^(bits-1) on both sides of zero (one step size for the whole range). */
    symmetric?: boolean;
  }
  export interface AudioData {
    numberOfChannels: number;
    length: number;
    sampleRate: number;
    channelData: Float32Array[];
  }
  interface Decode {
    (buffer: ArrayBuffer | Uint8Array, opts?: DecodeOptions): Promise<AudioData>;
    /** Synchronous variant of decode. */
    sync(buffer: ArrayBuffer | Uint8Array, opts?: DecodeOptions): AudioData;
  }
  export const decode: Decode;
  const wavDecoder: { decode: Decode };
  export default wavDecoder;
}
