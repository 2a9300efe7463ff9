"""Do the networks grow units that track the text? What Inside the network finds, per signal.

    python bench/cell_features.py [--seconds 120] [--chars 3000] [--quick]

Trains the RNN at the dashboard defaults and the GRU and LSTM presets of Compare cells
(rnnlab.presets.CELL_PRESETS) on Tiny Shakespeare (../shared/data/tinyshakespeare.txt, 10% held
out) for --seconds of training CPU time each (one BLAS thread), then runs the first --chars
held-out characters through each model, as the Neurons view does, and prints for every signal
(the hidden units h; an LSTM's cell state c and gates; a GRU's gates) and every feature of
rnnlab.insight.text_features the unit that follows it best, by |Pearson correlation|.

--quick: 0.5 CPU-s of training per cell and 500 held-out characters (seconds, for the test
suite).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

import rnnlab  # noqa: E402
from rnnlab.insight import correlations, run_snippet, text_features  # noqa: E402
from rnnlab.presets import CELL_PRESETS  # noqa: E402

TEXT_FILE = REPO.parent / "shared/data/tinyshakespeare.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--chars", type=int, default=3000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.chars = 0.5, 500
    text = TEXT_FILE.read_text(encoding="utf-8")
    for label, config in CELL_PRESETS.items():
        trainer = rnnlab.Trainer(text, config.replace(seed=0))
        spent = 0.0
        while spent < args.seconds:
            started = time.process_time()
            trainer.step(10)
            spent += time.process_time() - started
        snippet = trainer.held_out_text[: args.chars]
        trace = run_snippet(trainer, None, snippet)
        features = text_features(trace.text)
        names = list(features)
        print(f"\n{label} ({rnnlab.architecture.network_label(trainer.config)}), "
              f"{trainer.iteration:,} iterations in {spent:.0f} CPU-s; best unit per feature, "
              f"|Pearson r| over {len(snippet):,} held-out characters")  # fmt: skip
        print(f"{'signal':8}" + "".join(f"{name[:16]:>18}" for name in names))
        for signal in trace.signals:
            corr = correlations(trace.looking_at(signal).hidden, features)  # (H, F)
            best = np.abs(corr).argmax(axis=0)
            cells = "".join(
                f"{abs(corr[unit, f]):>12.2f} (#{unit:<3})" for f, unit in enumerate(best)
            )
            print(f"{signal:8}{cells}")


if __name__ == "__main__":
    main()
