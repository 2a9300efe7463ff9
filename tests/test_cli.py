"""`python -m rnnlab`: train and sample end to end, and one-line errors for bad input."""

from __future__ import annotations

import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import rnnlab
from rnnlab import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEXT = "the cat sat on the mat. the dog ate my hat!\n" * 30


def run(*args: str | os.PathLike) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter, as a person would run it from the project folder."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "rnnlab", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def text_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "cat.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path]:
    """(checkpoint, text) from one short CLI training run, shared by the sampling tests."""
    folder = tmp_path_factory.mktemp("model")
    text = folder / "cat.txt"
    text.write_text(TEXT, encoding="utf-8")
    model = folder / "cat.model"
    result = run(
        "train", text, "--hidden", 16, "--seq", 10, "--steps", 60, "--seed", 3, "--save", model,
        "--log-every", 20, "--sample-every", 30, "--sample-length", 25, "--val", 0.1,
        "--val-every", 200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return model, text


# ----------------------------------------------------------------------------------- train
def test_train_logs_progress_samples_and_saves_where_asked(trained_model, tmp_path) -> None:
    model, text = trained_model
    assert model.is_file()  # exactly the path given, no ".npz" appended
    trainer = rnnlab.Trainer.load(str(model), text.read_text(encoding="utf-8"))
    assert trainer.iteration == 60
    assert trainer.config.seed == 3 and trainer.config.hidden_size == 16
    # Validation was measured after every 200 characters trained: every 20 iterations of 10.
    assert [i for i, _ in trainer.validation_history] == [20, 40, 60]


def test_train_output_has_a_line_per_log_interval_and_indented_samples(text_file) -> None:
    result = run(
        "train", text_file, "--hidden", 16, "--seq", 10, "--steps", 40, "--seed", 0,
        "--log-every", 10, "--sample-every", 20, "--sample-length", 30, "--val", 0.1,
        "--val-every", 100,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["iter", "smooth_loss"])
    assert "nats/char" in lines[header] and "bits/char" in lines[header]
    rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    assert [int(row[0]) for row in rows] == [10, 20, 30, 40]
    for row in rows:
        nats, bits = float(row[2]), float(row[3])
        assert bits == pytest.approx(nats / math.log(2), abs=1e-3)
    samples = [i for i, line in enumerate(lines) if "sample at iteration" in line]
    assert len(samples) == 2
    assert lines[samples[0] + 1].startswith("    ")


def test_train_is_reproducible_with_a_seed(text_file) -> None:
    args = ("train", text_file, "--hidden", 8, "--seq", 5, "--steps", 30, "--seed", 9)
    first, second = run(*args, "--log-every", 10), run(*args, "--log-every", 10)

    def losses(out: str) -> list[str]:
        return [
            line.split()[1] for line in out.splitlines() if line.split()[:1] in (["10"], ["30"])
        ]

    assert losses(first.stdout) == losses(second.stdout) and len(losses(first.stdout)) == 2


def test_help_shows_each_flags_range_from_config() -> None:
    result = run("train", "--help")
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    for flag, field in cli.CONFIG_FLAGS.items():
        assert f"--{flag}" in help_text
        if rnnlab.Config.kind(field) is str:
            assert f"One of {', '.join(rnnlab.Config.choices(field))}" in help_text
            continue
        low, high = rnnlab.Config.range(field)
        shown = [f"{value:g}" if isinstance(value, float) else str(value) for value in (low, high)]
        assert f"Range {shown[0]}..{shown[1]}" in help_text


# ---------------------------------------------------------------------------------- sample
def test_sample_continues_the_prime_from_a_saved_model(trained_model) -> None:
    model, text = trained_model
    result = run("sample", model, "--text", text, "--prime", "the ", "-n", 50, "--seed", 1)
    assert result.returncode == 0, result.stderr
    output = result.stdout.removesuffix("\n")
    assert output.startswith("the ")
    assert len(output) == len("the ") + 50
    assert set(output) <= set(TEXT)
    again = run("sample", model, "--text", text, "--prime", "the ", "-n", 50, "--seed", 1)
    assert again.stdout == result.stdout


def test_sample_matches_the_library(trained_model) -> None:
    model, text = trained_model
    result = run("sample", model, "--text", text, "-n", 40, "--temperature", 0)
    trainer = rnnlab.Trainer.load(str(model), text.read_text(encoding="utf-8"))
    assert result.stdout.removesuffix("\n") == trainer.sample(40, temperature=0)


# ------------------------------------------------------------------------------ bad input
def test_missing_text_file_is_a_one_line_error(tmp_path) -> None:
    assert_one_line_error(run("train", tmp_path / "nope.txt"), "nope.txt", "No such file")


def test_binary_file_is_a_one_line_error(tmp_path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert_one_line_error(run("train", path), "binary")


def test_empty_file_is_a_one_line_error(tmp_path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert_one_line_error(run("train", path), "empty")


def test_text_too_short_for_the_sequence_length_is_a_one_line_error(tmp_path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("tiny text", encoding="utf-8")
    assert_one_line_error(run("train", path, "--seq", 25), "9 characters", "at least 26")


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--hidden", "2"], ["hidden_size", "4", "1024"]),
        (["--lr", "0"], ["learning_rate"]),
        (["--val", "0.9"], ["val_fraction", "0.5"]),
        (["--batch", "1.5"], ["--batch", "invalid int"]),
        (["--lr", "fast"], ["--lr"]),
        (["--steps", "-5"], ["--steps"]),
        (["--temperature", "-1"], ["--temperature"]),
        (["--val-every", "0"], ["--val-every"]),
        (["--no-such-flag"], ["--no-such-flag"]),
    ],
    ids=[
        "hidden",
        "lr",
        "val",
        "batch-type",
        "lr-type",
        "steps",
        "temperature",
        "val-every",
        "unknown",
    ],
)
def test_out_of_range_flags_are_one_line_errors(
    text_file, capsys, flags: list[str], words: list[str]
) -> None:
    # In-process: the same code path as a subprocess, without paying for an interpreter each.
    status = cli.main(["train", str(text_file), "--steps", "1", *flags])
    output = capsys.readouterr()
    assert_one_line_error(subprocess.CompletedProcess([], status, output.out, output.err), *words)


def test_out_of_range_flag_from_the_shell_is_a_one_line_error(text_file) -> None:
    assert_one_line_error(run("train", text_file, "--seq", 1), "seq_length", "2", "500")


def test_save_into_a_missing_folder_fails_before_training(text_file, tmp_path) -> None:
    result = run("train", text_file, "--save", tmp_path / "no" / "model.npz")
    assert_one_line_error(result, "does not exist")
    assert result.stdout == ""


def test_sample_needs_the_training_text(trained_model) -> None:
    model, _ = trained_model
    assert_one_line_error(run("sample", model), "--text")


@pytest.mark.parametrize("kind", ["missing", "not-a-checkpoint", "truncated"])
def test_bad_checkpoint_is_a_one_line_error(trained_model, tmp_path, kind: str) -> None:
    model, text = trained_model
    path = tmp_path / "bad.npz"
    if kind == "not-a-checkpoint":
        path.write_text("hello", encoding="utf-8")
    elif kind == "truncated":
        path.write_bytes(model.read_bytes()[:500])
    assert_one_line_error(
        run("sample", path, "--text", text), "bad.npz" if kind == "missing" else ""
    )


def test_sample_with_a_different_text_is_a_one_line_error(trained_model, tmp_path) -> None:
    model, _ = trained_model
    other = tmp_path / "other.txt"
    other.write_text("completely different words: xyz " * 20, encoding="utf-8")
    assert_one_line_error(run("sample", model, "--text", other), "vocabulary")


def test_prime_with_unknown_characters_is_a_one_line_error(trained_model) -> None:
    model, text = trained_model
    assert_one_line_error(run("sample", model, "--text", text, "--prime", "QQ"), "'Q'")


# ------------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_stops_cleanly_and_saves(monkeypatch, text_file, tmp_path, capsys) -> None:
    calls = []
    real_step = rnnlab.Trainer.step

    def step_then_interrupt(self: rnnlab.Trainer, n: int = 1) -> float:
        calls.append(n)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real_step(self, n)

    monkeypatch.setattr(rnnlab.Trainer, "step", step_then_interrupt)
    model = tmp_path / "interrupted.npz"
    status = cli.main(
        ["train", str(text_file), "--hidden", "8", "--seq", "5", "--seed", "0",
         "--steps", "1000", "--log-every", "0", "--sample-every", "0", "--save", str(model)]
    )  # fmt: skip
    assert status == cli.EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().out
    trainer = rnnlab.Trainer.load(str(model), TEXT)
    assert trainer.iteration == sum(calls[:3])
    assert 0 < trainer.iteration < 1000

    # The checkpoint is the state after those iterations exactly.
    monkeypatch.setattr(rnnlab.Trainer, "step", real_step)
    straight = rnnlab.Trainer(TEXT, trainer.config)
    straight.step(trainer.iteration)
    np.testing.assert_array_equal(trainer.losses, straight.losses)
    np.testing.assert_array_equal(trainer.params["Whh"], straight.params["Whh"])


def test_ctrl_c_without_save_just_stops(monkeypatch, text_file, tmp_path) -> None:
    def interrupt(self: rnnlab.Trainer, n: int = 1) -> float:
        raise KeyboardInterrupt

    monkeypatch.setattr(rnnlab.Trainer, "step", interrupt)
    assert (
        cli.main(["train", str(text_file), "--hidden", "8", "--seq", "5"]) == cli.EXIT_INTERRUPTED
    )
    assert list(tmp_path.iterdir()) == [text_file]


def test_a_first_sigint_is_a_request_to_stop_between_blocks(
    monkeypatch, text_file, tmp_path
) -> None:
    # Deliver a real SIGINT from inside a step: training must finish that block, then stop.
    import signal

    real_step = rnnlab.Trainer.step
    blocks = []

    def step_and_signal(self: rnnlab.Trainer, n: int = 1) -> float:
        blocks.append(n)
        if len(blocks) == 2:
            signal.raise_signal(signal.SIGINT)
        return real_step(self, n)

    monkeypatch.setattr(rnnlab.Trainer, "step", step_and_signal)
    model = tmp_path / "m.npz"
    status = cli.main(
        ["train", str(text_file), "--hidden", "8", "--seq", "5", "--seed", "0",
         "--steps", "500", "--log-every", "0", "--sample-every", "0", "--save", str(model)]
    )  # fmt: skip
    assert status == cli.EXIT_INTERRUPTED
    assert len(blocks) == 2
    assert rnnlab.Trainer.load(str(model), TEXT).iteration == sum(blocks)
    # The handler is removed afterwards.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_divergence_is_reported_and_the_rolled_back_model_saved(
    monkeypatch, text_file, tmp_path, capsys
):
    def diverge(self: rnnlab.Trainer, n: int = 1) -> float:
        raise rnnlab.DivergenceError("The loss became inf at iteration 1; lower the learning rate.")

    monkeypatch.setattr(rnnlab.Trainer, "step", diverge)
    model = tmp_path / "m.npz"
    status = cli.main(
        ["train", str(text_file), "--hidden", "8", "--seq", "5", "--save", str(model)]
    )
    assert status == cli.EXIT_DIVERGED
    assert "lower the learning rate" in capsys.readouterr().err
    assert model.is_file()


# ------------------------------------------------------------------------ cells and layers
def test_train_and_sample_a_two_layer_lstm_with_adam_in_float32(text_file, tmp_path) -> None:
    model = tmp_path / "lstm.model"
    result = run(
        "train", text_file, "--cell", "lstm", "--layers", 2, "--opt", "adam", "--dtype",
        "float32", "--lr", 0.005, "--hidden", 16, "--seq", 10, "--steps", 40, "--seed", 1,
        "--save", model, "--sample-every", 0,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2-layer LSTM float32" in result.stdout and " adam " in result.stdout
    trainer = rnnlab.Trainer.load(str(model), text_file.read_text(encoding="utf-8"))
    assert (trainer.config.cell, trainer.config.layers, trainer.config.optimizer) == (
        "lstm",
        2,
        "adam",
    )
    assert trainer.params["Whh2"].dtype == np.float32
    sampled = run("sample", model, "--text", text_file, "-n", 30, "--temperature", 0)
    assert sampled.returncode == 0, sampled.stderr
    assert sampled.stdout.removesuffix("\n") == trainer.sample(30, temperature=0)


def test_an_unknown_cell_is_a_one_line_error(text_file) -> None:
    assert_one_line_error(run("train", text_file, "--cell", "transformer"), "--cell", "lstm")


def test_a_text_with_a_huge_vocabulary_is_capped_and_the_sample_reads_it_the_same_way(
    tmp_path, capsys
) -> None:
    rare = "".join(chr(0x4E00 + i) for i in range(2000))  # 2,000 characters seen once each
    path = tmp_path / "wide.txt"
    path.write_text(TEXT + rare, encoding="utf-8")
    model = tmp_path / "wide.npz"
    flags = ["--steps", "2", "--hidden", "8", "--save", str(model)]
    assert cli.main(["train", str(path), *flags]) == 0
    out = capsys.readouterr().out
    merged = len(set(TEXT + rare)) - 511  # ties go by code point: some of the 2,000 stay
    assert f"{merged:,} rare characters (" in out and "share one symbol ⟨\ufffd⟩" in out
    assert rnnlab.Trainer.load(model, rnnlab.cap_vocabulary(TEXT + rare)[0]).vocab.size == 512
    assert cli.main(["sample", str(model), "--text", str(path), "-n", "20"]) == 0


# -------------------------------------------------------------------------- from a base model
def test_train_from_a_checkpoint_as_a_base_on_another_text(trained_model, tmp_path) -> None:
    base, _ = trained_model
    other = tmp_path / "dog.txt"
    other.write_text("The DOG ran to the park; 2 cats sat still.\n" * 100, encoding="utf-8")
    model = tmp_path / "dog.npz"
    result = run(
        "train", other, "--from", base, "--steps", 20, "--lr", 0.003, "--dropout", 0.2,
        "--seed", 1, "--save", model, "--sample-every", 0,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Started from cat.model, which knew" in result.stdout
    assert "dropout=0.2" in result.stdout and " adam " in result.stdout
    trainer = rnnlab.Trainer.load(model, other.read_text(encoding="utf-8"))
    assert trainer.origin.base == "cat.model" and "D" in dict(trainer.origin.kin)
    assert (trainer.config.hidden_size, trainer.config.learning_rate) == (16, 0.003)
    assert trainer.config.dropout == 0.2 and trainer.iteration == 20


def test_the_network_cannot_change_when_starting_from_a_base(trained_model) -> None:
    base, text = trained_model
    result = run("train", text, "--from", base, "--hidden", 32, "--steps", 1)
    assert_one_line_error(result, "hidden size (the base's: 16)", "random weights")


def test_an_unknown_base_is_a_one_line_error(text_file) -> None:
    assert_one_line_error(run("train", text_file, "--from", "klingon"), "No base model 'klingon'")


def test_train_from_the_bundled_base_by_name(text_file, tmp_path) -> None:
    model = tmp_path / "cat-from-english.npz"
    result = run(
        "train", text_file, "--from", "english", "--steps", 5, "--save", model,
        "--sample-every", 0, "--log-every", 5, "--batch", 4,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Started from english, which knew" in result.stdout
    trainer = rnnlab.Trainer.load(model, text_file.read_text(encoding="utf-8"))
    base = rnnlab.checkpoint.load_state(rnnlab.base_models()["english"]).config
    assert (trainer.config.cell, trainer.config.hidden_size) == (base.cell, base.hidden_size)
    assert trainer.config.optimizer == "adam" and trainer.origin.base == "english"
