"""Test-wide setup: NumPy's BLAS on one thread, as the app runs it (app.py), and room for every
test's play process.

The thread count changes how a matrix product is rounded, so a play process and the test that
started it must agree on it; importing app.py (as some tests do) would otherwise set it for the
play processes started after that, but not for NumPy already loaded here.

The server runs cores - 1 play processes at once by default: one on this 2-core machine. Tests
start sessions one after another, and one that has just ended may still be stopping its player
when the next presses Play; the cap itself is tested with its own value (tests/test_budget.py).
"""

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["RNNLAB_MAX_PLAYERS"] = "8"
