"""Sequence models from Python: int64 ids for a stack that starts with
`embedding`, and `text=` character models, whose files `synapse generate`
reads."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import synapse_nn as sn


def test_ids_in_classes_out():
    ids = np.random.default_rng(0).integers(0, 10, (64, 5))
    net = sn.Sequential("embedding(10,8), last, linear(8,10)", seed=1)
    net.fit(ids, ids[:, -1], loss="cross-entropy", optimizer="adam", lr=0.05, epochs=30)
    assert (net.predict(ids).argmax(1) == ids[:, -1]).all()
    assert np.array_equal(net.predict(ids.astype(np.int32)), net.predict(ids))
    with pytest.raises(ValueError, match=r"^X: the stack starts with embedding, which takes integer ids, but the array holds float32$"):
        net.predict(ids.astype(np.float32))
    with pytest.raises(ValueError, match=r"^X: embedding\(10,8\): id 28 at row 0, position 0 is not one of its ids 0..9"):
        net.predict(ids + 20)


def test_a_text_model_for_synapse_generate(tmp_path, synapse_bin):
    text = tmp_path / "t.txt"
    text.write_text("hello world, hello synapse. " * 40)
    wrong = sn.Sequential("embedding(14,16), lstm(16,32), linear(32,14)", seed=2)
    with pytest.raises(ValueError, match=r"^spec: the text has 15 distinct characters"):
        wrong.fit(text=text, context=8, loss="cross-entropy")
    net = sn.Sequential("embedding(15,16), lstm(16,32), linear(32,15)", seed=2)
    history = net.fit(text=str(text), context=8, loss="cross-entropy", optimizer="adam", lr=0.01, epochs=3, val_split=0.1)
    assert len(history["val_loss"]) == 3
    net.save(tmp_path / "chars.safetensors")
    out = subprocess.run(
        [str(synapse_bin), "generate", "--model", str(tmp_path / "chars.safetensors"), "--prompt", "hello ", "--length", "20"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert out.startswith("hello ") and len(out.rstrip("\n")) == 26


TOKENIZER = (Path(__file__).resolve().parents[2]
             / "crates/synapse-train/tests/data/gpt2/tiny-random/tokenizer.json")


def test_fit_with_a_tokenizer_keeps_it_and_refuses_a_small_embedding(tmp_path):
    """fit(text=, context=, tokenizer=) as `train --tokenizer`: the model file
    keeps the tokenizer's JSON; an embedding with fewer ids than the
    tokenizer's 384 tokens is a ValueError naming the keyword and both sizes."""
    text = tmp_path / "t.txt"
    text.write_text("The synapse command trains a small model. " * 10)
    net = sn.Sequential("embedding(384,8), linear(8,384)", seed=1)
    history = net.fit(text=str(text), context=8, tokenizer=str(TOKENIZER), loss="cross-entropy", epochs=2)
    assert len(history["loss"]) == 2
    net.save(tmp_path / "m.safetensors")
    header = (tmp_path / "m.safetensors").read_bytes()
    assert b'"tokenizer"' in header and b'"vocab"' not in header
    small = sn.Sequential("embedding(100,8), linear(8,100)", seed=1)
    with pytest.raises(ValueError, match=r"^tokenizer .*384 tokens.*embedding\(100,D\)"):
        small.fit(text=str(text), context=8, tokenizer=str(TOKENIZER), loss="cross-entropy")


def test_generate_matches_the_cli(tmp_path, synapse_bin):
    text = tmp_path / "t.txt"
    text.write_text("hello world, hello synapse. " * 40)
    net = sn.Sequential("embedding(15,16), lstm(16,32), linear(32,15)", seed=2)
    net.fit(text=str(text), context=8, loss="cross-entropy", optimizer="adam", lr=0.01, epochs=2)
    net.save(tmp_path / "chars.safetensors")
    for settings in [dict(temperature=0.0), dict(temperature=0.9, top_k=5, top_p=0.8, seed=4)]:
        got = net.generate("hello ", length=40, **settings)
        assert got.startswith("hello ") and len(got) == 46
        flags = []
        for key, value in settings.items():
            flags += ["--" + key.replace("_", "-"), str(value)]
        out = subprocess.run(
            [str(synapse_bin), "generate", "--model", str(tmp_path / "chars.safetensors"), "--prompt", "hello ", "--length", "40", *flags],
            check=True, capture_output=True, text=True,
        ).stdout
        assert out == got + "\n"
    with pytest.raises(ValueError, match=r"top-p"):
        net.generate("hello", top_p=1.5)


GPT2 = Path(__file__).resolve().parents[2] / "crates/synapse-train/tests/data/gpt2"


def test_load_reads_a_hugging_face_folder_and_generates_transformers_tokens():
    """sn.load(DIR) of GPT-2 folders (SPEC section 12), untied and tied: greedy
    text equals transformers' generate(do_sample=False) (values.json,
    make.py); the tied head is one tensor in the state_dict."""
    prompt = "The synapse command trains a small model"
    values = json.loads((GPT2 / "values.json").read_text())["folders"]
    for folder in ["tiny-trained", "tiny-random"]:
        net = sn.load(str(GPT2 / folder))
        got = net.generate(prompt, length=20, temperature=0.0)
        assert got == values[folder]["greedy_f32"]["text"], folder
    assert got == prompt + "rain" * 20
    state = net.state_dict()
    assert "0.weight" in state
    assert not any(k.endswith(".weight") and state[k].shape == state["0.weight"].shape
                   for k in state if k != "0.weight"), sorted(state)
