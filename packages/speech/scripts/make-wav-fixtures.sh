#!/bin/sh
# Regenerates the small WAV fixtures of test/wav.test.ts with sox (apt-get install sox).
# Every file holds 0.25 s of a 440 Hz sine at amplitude 0.5, starting at phase 0 (no dither: -D).
set -e
out="$(dirname "$0")/../test/fixtures/wav"
mkdir -p "$out"
cd "$out"
synth="synth 0.25 sine 440 vol 0.5"
sox -D -n -r 16000 -c 1 -b 16 -e signed-integer   s16_16k.wav   $synth
sox -D -n -r 8000  -c 1 -b 8  -e unsigned-integer u8_8k.wav     $synth
sox -D -n -r 22050 -c 1 -b 24 -e signed-integer   s24_22k.wav   $synth
sox -D -n -r 44100 -c 1 -b 32 -e signed-integer   s32_44k.wav   $synth
sox -D -n -r 44100 -c 1 -b 32 -e floating-point   f32_44k.wav   $synth
sox -D -n -r 16000 -c 1 -b 64 -e floating-point   f64_16k.wav   $synth
# Stereo: the sine on the left, silence on the right (a mix-down halves the amplitude).
sox -D -n -r 22050 -c 2 -b 16 -e signed-integer   stereo_22k.wav synth 0.25 sine 440 sine 0 vol 0.5
# Broken files.
printf 'this is not audio\n' > not_wav.wav
head -c 3000 s16_16k.wav > truncated.wav
sox -D -n -r 16000 -c 1 -b 16 empty.wav trim 0 0
: > zero_bytes.wav
