"""Named starting configurations for the dashboard (placeholder while tuning)."""

from .config import Config

DASHBOARD_DEFAULTS = Config(
    hidden_size=100, seq_length=25, learning_rate=0.1, batch_size=8, seed=None, val_fraction=0.1
)
