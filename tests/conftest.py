"""Test-wide setup: NumPy's BLAS on one thread, as the app runs it (app.py).

The thread count changes how a matrix product is rounded, so a play process and the test that
started it must agree on it; importing app.py (as some tests do) would otherwise set it for the
play processes started after that, but not for NumPy already loaded here.
"""

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
