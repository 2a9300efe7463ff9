"""What the views ask of the model itself, as it is now: a longer piece of writing, the model run
over a snippet, a sample beside the greedy one, the run's history as CSV. Each reads the session's
run through `Lab.model()`, which holds the session's lock meanwhile (Generate fetches Play's
latest parameters first; the others read the model the views last drew); the limits are
dashboard.limits'."""

from __future__ import annotations

from rnnlab.copying import CopyReport
from rnnlab.insight import DrawnText, SnippetTrace, run_snippet, sample_side_by_side
from rnnlab.sampling import SampleSettings

from . import exports
from .limits import GENERATE_MAX_CHARS, SNIPPET_MAX_CHARS
from .session import Lab


def generate(
    lab: Lab, length: int, temperature: float, prime: str = ""
) -> tuple[str, CopyReport | None]:
    """A longer piece (prime included) from the model as it is now, and its copy meter reading
    (None until the text's index is ready); ValueError for settings out of range or a prime the
    model cannot read."""
    if isinstance(length, bool) or not isinstance(length, int):
        raise ValueError("Generate needs a whole number of characters.")
    if not 1 <= length <= GENERATE_MAX_CHARS:
        raise ValueError(f"Generate writes 1 to {GENERATE_MAX_CHARS:,} characters.")
    settings = SampleSettings(temperature=temperature, prime=prime)  # checks both
    with lab.model() as trainer:
        if prime:
            trainer.vocab.encode(prime)  # raises ValueError naming unknown characters
        text = settings.prime + trainer.sample(length, prime=prime or None, temperature=temperature)
        return text, lab.analysis.meter(text)


def snippet_trace(lab: Lab, text: str) -> SnippetTrace:
    """The model (as the views last drew it) run over `text`; ValueError for unknown characters
    or too much text."""
    if len(text) > SNIPPET_MAX_CHARS:
        raise ValueError(
            f"The snippet is {len(text):,} characters long; the views read at most "
            f"{SNIPPET_MAX_CHARS:,}."
        )
    with lab.model(fetch=False) as trainer:
        return run_snippet(trainer, None, text)


def side_by_side(lab: Lab, n: int = 200) -> tuple[DrawnText, DrawnText]:
    """A sample at the sample settings' temperature beside the greedy one, same start."""
    settings = lab.sample_settings
    with lab.model(fetch=False) as trainer:
        return sample_side_by_side(
            trainer, n=n, prime=settings.prime or None,
            temperature=settings.temperature or 1.0, seed=trainer.iteration,
        )  # fmt: skip


def history_csv(lab: Lab) -> str:
    """The live run's history, one row per row of its loss record, as CSV text."""
    with lab.model(fetch=False) as trainer:
        return exports.history_csv(trainer.state(with_model=False))
