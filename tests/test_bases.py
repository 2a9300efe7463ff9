"""The bundled base models: listed with their cards, small, loadable as bases on any text, and
rebuilt by bench/pretrain.py (run here in its quick mode, as bench/transfer.py is)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import rnnlab
from rnnlab.bases import BASE_DIR, base_card

ROOT = Path(__file__).resolve().parent.parent


def run_bench(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """`python *args` from the repository's root (its text output), with `env` set."""
    env = os.environ | {"PYTHONPATH": str(ROOT)} | env
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_at_least_one_english_base_is_bundled_with_its_card() -> None:
    bases = rnnlab.base_models()
    assert "english" in bases and bases["english"] == BASE_DIR / "english.npz"
    for name, path in bases.items():
        card = base_card(name)
        assert card.name == name and card.corpus_chars > 1_000_000
        assert 0 < card.held_out_bits_per_char < 3 and card.cpu_seconds <= 3600
        assert path.stat().st_size < 5 * 2**20, "a few MB at most"
        text = path.with_suffix(".md").read_text(encoding="utf-8")
        assert "public domain" in text and "bench/pretrain.py" in text
        assert f"{card.held_out_bits_per_char:.3f} bits per character" in text
        state = rnnlab.checkpoint.load_state(path)
        assert state.params.dtype == np.float32 and state.iteration == 0
        assert not state.optimizer_memory.any() and len(state.losses) == 0


def test_a_base_by_name_starts_a_run_on_any_text() -> None:
    trainer = rnnlab.Trainer.from_base("¿Qué tal? Ça va — très bien!\n" * 150, "english")
    assert trainer.origin.base == "english"
    assert "é" in trainer.origin.known + "".join(c for c, _ in trainer.origin.kin)
    trainer.step(3)
    assert np.isfinite(trainer.losses).all()


def test_an_unknown_base_name_is_refused_with_the_names_there_are() -> None:
    try:
        base_card("klingon")
    except ValueError as error:
        assert "english" in str(error)
    else:
        raise AssertionError("base_card('klingon') did not refuse")


def test_pretrain_rebuilds_a_base_with_its_card_in_its_quick_mode(tmp_path: Path) -> None:
    result = run_bench("bench/pretrain.py", "--quick", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "english:" in result.stdout and "held-out" in result.stdout
    facts = json.loads((tmp_path / "english.json").read_text(encoding="utf-8"))
    assert facts["name"] == "english" and facts["iterations"] > 0
    assert base_card("english", folder=tmp_path).summary.startswith("a GRU that has read")
    assert rnnlab.base_models(tmp_path) == {"english": tmp_path / "english.npz"}
    made = rnnlab.Trainer.from_base("la la la, the river\n" * 200, tmp_path / "english.npz")
    assert made.arch.hidden_size == facts["config"]["hidden_size"]


def test_the_transfer_bench_runs_in_its_quick_mode() -> None:
    result = run_bench("bench/transfer.py", "--quick", "--budget", "2", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "| random weights, the dashboard's defaults |" in result.stdout
    assert "| best compressor |" in result.stdout and "A transfer allocates" in result.stdout
