#!/usr/bin/env python3
"""Checks d2v's Hugging Face interop against real `transformers` (run by hand; CI needs no Python).

  python tools/hf/verify.py compare RUN_OR_HF_DIR|MODALITY:PRESET [...] [--work DIR]
      For each d2v run (or checkpoint, or Hugging Face folder, or MODALITY:PRESET: a checkpoint of that
      preset with random values everywhere, tools/hf/random-checkpoint.ts): `d2v export --format hf` into
      DIR/<name>/hf, a fixed random input, d2v's hidden states on it (tools/hf/hidden.ts), then
      Data2Vec*Model.from_pretrained(DIR/<name>/hf) on the same input (no missing or unexpected
      weights allowed); prints the max abs difference of every hidden state and of the last one.

  python tools/hf/verify.py fixtures
      Writes the committed test fixtures: tiny randomly initialised HF models (no hub download),
      save_pretrained into packages/<modality>/test/fixtures/hf/<name>/, each with expected.safetensors
      (the input and HF's hidden states on it). The TS tests import them with --init and compare.

Needs torch, transformers and safetensors (python3 -m venv /tmp/hfvenv && /tmp/hfvenv/bin/pip install
torch transformers safetensors; written with transformers 5.18, torch 2.13) and Node with the
workspace installed. Run from anywhere; paths are relative to the repository.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import (
    Data2VecAudioConfig,
    Data2VecAudioModel,
    Data2VecTextConfig,
    Data2VecTextModel,
    Data2VecVisionConfig,
    Data2VecVisionModel,
)

ROOT = Path(__file__).resolve().parents[2]
D2V = [shutil.which("node") or "node", str(ROOT / "packages/core/bin/d2v.mjs")]
HIDDEN = [shutil.which("npx") or "npx", "tsx", str(ROOT / "tools/hf/hidden.ts")]
RANDOM = [shutil.which("npx") or "npx", "tsx", str(ROOT / "tools/hf/random-checkpoint.ts")]
MODELS = {
    "data2vec-vision": (Data2VecVisionModel, "pixel_values"),
    "data2vec-audio": (Data2VecAudioModel, "input_values"),
    "data2vec-text": (Data2VecTextModel, "input_ids"),
}
PAD, BOS, EOS = 1, 0, 2  # d2v's special ids (RoBERTa's)


def run(cmd, **kw):
    print("$", " ".join(str(c) for c in cmd), file=sys.stderr)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def model_input(cfg, seed=0):
    """A fixed random input of two samples in the model's own layout."""
    g = torch.Generator().manual_seed(seed)
    t = cfg["model_type"]
    if t == "data2vec-vision":
        s = cfg["image_size"]
        return torch.randn(2, cfg["num_channels"], s, s, generator=g)
    if t == "data2vec-audio":
        return torch.randn(2, 16000, generator=g)
    if t == "data2vec-text":
        n = min(24, cfg["max_position_embeddings"] - PAD - 1)
        ids = torch.randint(4, cfg["vocab_size"] - 1, (2, n), generator=g)
        ids[:, 0], ids[:, -1] = BOS, EOS
        return ids
    raise SystemExit(f"unknown model_type {t}")


def hf_hidden(folder, x):
    """transformers' hidden states (every one, then the last) for input x."""
    cfg = json.loads((Path(folder) / "config.json").read_text())
    cls, name = MODELS[cfg["model_type"]]
    kw = {"add_pooling_layer": False} if cls is Data2VecTextModel else {}
    model, info = cls.from_pretrained(folder, output_loading_info=True, dtype=torch.float32, **kw)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        raise SystemExit(f"{folder}: from_pretrained did not load every weight exactly: {bad}")
    model.eval()
    with torch.no_grad():
        out = model(**{name: x}, output_hidden_states=True)
    return list(out.hidden_states), out.last_hidden_state


def compare(args):
    work = Path(args.work).resolve()
    rows = []
    for spec in args.sources:
        if ":" in spec and not Path(spec).exists():
            # MODALITY:PRESET: a randomly initialised checkpoint of that preset (no pretraining needed).
            modality, preset = spec.split(":", 1)
            name = f"{modality}-{preset}-random"
            dest = work / name
            if dest.exists():
                shutil.rmtree(dest)
            run(RANDOM + ["--modality", modality, "--preset", preset, "--out", dest / "run"])
            src = dest / "run"
        else:
            src = Path(spec).resolve()
            name = src.name if src.name not in ("hf", "checkpoints") else src.parent.name
            dest = work / name
            if dest.exists():
                shutil.rmtree(dest)
        dest.mkdir(parents=True, exist_ok=True)
        run(D2V + ["export", "--format", "hf", "--init", src, "--out", dest / "hf"])
        cfg = json.loads((dest / "hf/config.json").read_text())
        x = model_input(cfg)
        save_file({MODELS[cfg["model_type"]][1]: x.contiguous()}, str(dest / "input.safetensors"))
        run(HIDDEN + ["--init", src, "--input", dest / "input.safetensors", "--out", dest / "d2v-hidden.safetensors"])
        mine = load_file(str(dest / "d2v-hidden.safetensors"))
        hidden, last = hf_hidden(str(dest / "hf"), x)
        diffs = [(mine[f"hidden.{i}"] - h).abs().max().item() for i, h in enumerate(hidden)]
        last_diff = (mine["last"] - last).abs().max().item()
        scale = last.abs().max().item()
        rows.append((name, cfg["model_type"], len(hidden) - 1, max(diffs), last_diff, scale))
        print(f"{name}: per hidden state max |d2v - HF| = {', '.join(f'{d:.2e}' for d in diffs)}; last {last_diff:.2e} (|HF last| <= {scale:.2f})")
    print("\n| run | HF model_type | blocks | max abs diff, all hidden states | last hidden state |")
    print("|---|---|---|---|---|")
    for name, t, n, d, l, _ in rows:
        print(f"| {name} | {t} | {n} | {d:.1e} | {l:.1e} |")
    worst = max(max(r[3], r[4]) for r in rows)
    if worst > args.tol:
        raise SystemExit(f"FAIL: max abs diff {worst:.2e} > {args.tol}")
    print(f"OK: every hidden state within {args.tol}")


def write_fixture(folder, model, x, dtype=None):
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    model.eval()
    with torch.no_grad():
        out = model(**{MODELS[model.config.model_type][1]: x}, output_hidden_states=True)
    hidden, last = list(out.hidden_states), out.last_hidden_state
    (model.to(dtype) if dtype else model).save_pretrained(folder)
    # What from_pretrained loads must compute the same states (no weight left out or renamed).
    reloaded, reloaded_last = hf_hidden(str(folder), x)
    assert (reloaded_last.float() - last).abs().max() < 1e-3, "save_pretrained round trip changed the outputs"
    tensors = {MODELS[model.config.model_type][1]: x.contiguous(), "last": last.clone()}
    tensors.update({f"hidden.{i}": h.clone() for i, h in enumerate(hidden)})
    save_file(tensors, str(folder / "expected.safetensors"))
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(f"{folder.relative_to(ROOT)}: {len(hidden) - 1} blocks, {size / 1024:.0f} KB", file=sys.stderr)


def randomize(model, seed):
    """Random values everywhere: HF initialises biases, norms, layer scale, positions and CLS to constants,
    which would let a wrong mapping of those pass."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if p.ndim >= 2 and "embed" not in name and "token" not in name and "bias_table" not in name:
                p.copy_(r / p[0].numel() ** 0.5)  # fan-in scaled
            elif "norm" in name.lower() and name.endswith("weight") or "lambda" in name:
                p.copy_(1 + 0.2 * r)
            else:
                p.copy_(0.3 * r)
    return model


def fixtures(_args):
    torch.manual_seed(2022)
    small = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, layer_norm_eps=1e-5, hidden_act="gelu")
    vision = ROOT / "packages/vision/test/fixtures/hf"
    g = torch.Generator().manual_seed(1)
    # Absolute positions + layer scale + final LayerNorm (use_mean_pooling false).
    cfg = Data2VecVisionConfig(**small, image_size=8, patch_size=4, num_channels=1, use_mask_token=True, use_absolute_position_embeddings=True,
                               use_shared_relative_position_bias=False, use_mean_pooling=False, layer_scale_init_value=0.1)
    write_fixture(vision / "absolute", randomize(Data2VecVisionModel(cfg), 1), torch.randn(2, 1, 8, 8, generator=g))
    # Shared relative position bias, 3 channels, no layer scale, no final LayerNorm (use_mean_pooling true).
    cfg = Data2VecVisionConfig(**small, image_size=12, patch_size=4, num_channels=3, use_mask_token=True, use_absolute_position_embeddings=False,
                               use_shared_relative_position_bias=True, use_mean_pooling=True, layer_scale_init_value=0.0)
    write_fixture(vision / "relative", randomize(Data2VecVisionModel(cfg), 2), torch.randn(2, 3, 12, 12, generator=g))
    # Audio: two conv layers, two positional convs with an even kernel (HF's pad layer removes the last frame).
    cfg = Data2VecAudioConfig(**small, conv_dim=[8, 12], conv_kernel=[10, 3], conv_stride=[5, 2], num_conv_pos_embeddings=2,
                              conv_pos_kernel_size=4, num_conv_pos_embedding_groups=4, mask_time_prob=0.05)
    write_fixture(ROOT / "packages/speech/test/fixtures/hf/audio", randomize(Data2VecAudioModel(cfg), 3), torch.randn(2, 400, generator=g))
    # Text: the bundled d2v-8k tokenizer's 8000 ids (what d2v's text encoder is built for), 8 wide, stored as
    # float16 to stay small (d2v reads F16 as float32; HF's expected states come from the same rounded weights).
    small8 = {**small, "hidden_size": 8, "intermediate_size": 16}
    cfg = Data2VecTextConfig(**small8, vocab_size=8000, max_position_embeddings=128 + PAD + 1, type_vocab_size=1, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS)
    model = randomize(Data2VecTextModel(cfg, add_pooling_layer=False), 4)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    ids = torch.randint(4, 7999, (2, 12), generator=g)
    ids[:, 0], ids[:, -1] = BOS, EOS
    write_fixture(ROOT / "packages/text/test/fixtures/hf/text", model, ids, dtype=torch.float16)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare", help="export d2v runs and compare hidden states with transformers")
    c.add_argument("sources", nargs="+")
    c.add_argument("--work", default=os.environ.get("TMPDIR", "/tmp") + "/d2v-hf-verify")
    c.add_argument("--tol", type=float, default=1e-4)
    sub.add_parser("fixtures", help="write the committed test fixtures")
    a = p.parse_args()
    torch.set_grad_enabled(False)
    {"compare": compare, "fixtures": fixtures}[a.cmd](a)


if __name__ == "__main__":
    main()
