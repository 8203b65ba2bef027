// @d2v/speech: data2vec for speech (wav2vec 2.0 front end, span masking, CTC fine-tuning).
// The package builds empty until its issue lands; nothing is registered yet.
export {};
