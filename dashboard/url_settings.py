"""Settings in the page's address, so that a copied link opens the same run's settings.

    ?text=songbook&hidden=100&seq=25&lr=0.05&batch=16&seed=7&val=0.1&dropout=0.2&temp=0.8

Each value must be one the page's own controls can show (a learning rate from the slider's
list, a hidden size in its steps); anything else is ignored, and said so, never half-applied.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from rnnlab.config import SHORT_NAMES, Config
from rnnlab.corpora import BUILTIN_CORPORA, Corpus
from rnnlab.sampling import TEMPERATURE_RANGE

# Short names for the built-in texts: the first word of each, lower case ("songbook").
TEXT_SLUGS = {name.split()[0].lower(): name for name in BUILTIN_CORPORA}
TEXT_KEY = "text"
TEMPERATURE_KEY = "temp"
START_KEY = "from"  # where the run's weights came from: "random" or a bundled base's name
TEMPERATURE_STEP = 0.05
# URL key -> Config field: the command line's flag names.
CONFIG_KEYS = SHORT_NAMES


@dataclass(frozen=True)
class Controls:
    """The values the page's controls can take, beyond Config's ranges."""

    learning_rates: tuple[float, ...]
    batch_sizes: tuple[int, ...]
    hidden_step: int
    val_step: float
    dropout_step: float = 0.05


@dataclass(frozen=True)
class UrlSettings:
    """What an address asked for: the config, text and temperature, and what was ignored."""

    config: Config
    text: str | None  # a key of BUILTIN_CORPORA, or None to keep the default
    temperature: float | None
    ignored: tuple[str, ...]  # one sentence per ignored value
    start: str | None = None  # one of the start keys read() was given, or None: the default


def read(
    query: Mapping[str, str],
    defaults: Config,
    controls: Controls,
    starts: Mapping[str, Config] | None = None,
) -> UrlSettings:
    """The settings asked for in `query` (st.query_params), over `defaults`, or over the
    defaults of the start it asks for (starts: start key -> its defaults)."""
    ignored: list[str] = []
    start = None
    if START_KEY in query and starts is not None:
        start = query[START_KEY] if query[START_KEY] in starts else None
        if start is None:
            ignored.append(f"{START_KEY}={query[START_KEY]!r}: one of {', '.join(starts)}")
        else:
            defaults = starts[start]
    config = defaults
    for key, field in CONFIG_KEYS.items():
        if key not in query:
            continue
        raw = query[key]
        try:
            value = _parse(field, raw, controls)
            config = config.replace(**{field: value})
        except ValueError as error:
            ignored.append(f"{key}={raw!r}: {error}")
    text = None
    if TEXT_KEY in query:
        text = TEXT_SLUGS.get(query[TEXT_KEY])
        if text is None:
            ignored.append(
                f"{TEXT_KEY}={query[TEXT_KEY]!r}: not a built-in text "
                f"(one of {', '.join(TEXT_SLUGS)})"
            )
    temperature = None
    if TEMPERATURE_KEY in query:
        try:
            temperature = _temperature(query[TEMPERATURE_KEY])
        except ValueError as error:
            ignored.append(f"{TEMPERATURE_KEY}={query[TEMPERATURE_KEY]!r}: {error}")
    return UrlSettings(config, text, temperature, tuple(ignored), start)


def builtin_name(corpus: Corpus) -> str | None:
    """The BUILTIN_CORPORA name of a built-in text, or None for an uploaded one."""
    slug = corpus.name.split()[0].lower() if corpus.name.split() else ""
    return TEXT_SLUGS.get(slug) if corpus.source != "upload" else None


def write(
    config: Config, corpus: Corpus, temperature: float, start: str | None = None
) -> dict[str, str]:
    """The query that read() turns back into these settings (an uploaded text is left out: an
    address cannot carry it, nor a start that is not a key read() knows: pass None)."""
    query = {} if start is None else {START_KEY: start}
    name = builtin_name(corpus)
    if name is not None:
        query[TEXT_KEY] = next(slug for slug, known in TEXT_SLUGS.items() if known == name)
    for key, field in CONFIG_KEYS.items():
        value = getattr(config, field)
        if value is not None:
            query[key] = f"{value:g}" if isinstance(value, float) else str(value)
    query[TEMPERATURE_KEY] = f"{temperature:g}"
    return query


def _parse(field: str, raw: str, controls: Controls) -> int | float | str:
    if Config.kind(field) is str:
        if raw not in Config.choices(field):
            raise ValueError(f"one of {', '.join(Config.choices(field))}")
        return raw
    integral = Config.kind(field) is int
    value = _number(raw, integral)
    Config().replace(**{field: value})  # the range, with Config's own message
    if field == "learning_rate":
        closest = min(controls.learning_rates, key=lambda lr: abs(lr - value))
        if not math.isclose(value, closest):
            offered = ", ".join(f"{lr:g}" for lr in controls.learning_rates)
            raise ValueError(f"the learning rate slider offers {offered}")
        return closest
    if field == "batch_size" and value not in controls.batch_sizes:
        raise ValueError(f"the batch size is one of {', '.join(map(str, controls.batch_sizes))}")
    if field == "hidden_size" and value % controls.hidden_step:
        raise ValueError(f"the hidden size goes in steps of {controls.hidden_step}")
    if field == "val_fraction" and not _on_step(value, controls.val_step):
        raise ValueError(f"the validation share goes in steps of {controls.val_step:g}")
    if field == "dropout" and not _on_step(value, controls.dropout_step):
        raise ValueError(f"the dropout goes in steps of {controls.dropout_step:g}")
    return value


def _number(raw: str, integral: bool) -> int | float:
    text = str(raw).strip()
    try:
        value = int(text) if integral else float(text)
    except ValueError:
        raise ValueError("not a whole number" if integral else "not a number") from None
    if not integral and not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _temperature(raw: str) -> float:
    value = _number(raw, integral=False)
    low, high = TEMPERATURE_RANGE
    if not low <= value <= high:
        raise ValueError(f"the temperature must be between {low:g} and {high:g}")
    if not _on_step(value, TEMPERATURE_STEP):
        raise ValueError(f"the temperature goes in steps of {TEMPERATURE_STEP:g}")
    return round(round(value / TEMPERATURE_STEP) * TEMPERATURE_STEP, 10)


def _on_step(value: float, step: float) -> bool:
    return math.isclose(value / step, round(value / step), abs_tol=1e-9)
