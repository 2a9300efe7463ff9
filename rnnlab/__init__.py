"""rnnlab: watch a character-level vanilla RNN learn.

import rnnlab
text, info = rnnlab.load_text(open("lyrics.txt", "rb").read())
trainer = rnnlab.Trainer(text, rnnlab.Config(hidden_size=128, batch_size=16))
trainer.step(2000)
print(trainer.smooth_loss, trainer.sample(300, temperature=0.8))
"""

from .bases import base_models
from .config import Config
from .copying import CopyIndex
from .gradcheck import gradcheck
from .model import PARAM_NAMES, forward, init_params, loss_and_grads
from .text import RareMerge, TextInfo, Vocab, cap_vocabulary, load_text
from .trainer import DivergenceError, Trainer
from .yardsticks import baselines

__all__ = [
    "PARAM_NAMES",
    "Config",
    "CopyIndex",
    "DivergenceError",
    "RareMerge",
    "TextInfo",
    "Trainer",
    "Vocab",
    "base_models",
    "baselines",
    "cap_vocabulary",
    "forward",
    "gradcheck",
    "init_params",
    "load_text",
    "loss_and_grads",
]
