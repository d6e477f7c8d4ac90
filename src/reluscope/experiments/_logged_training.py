"""One logged training loop shared by the divergence experiments.

Both divergence experiments train masked networks with a torch optimizer and record the
loss and the parameter norm every ``log_every`` steps; only the forward pass and what is
recorded differ, so they pass those in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def train_logged(opt: Any, forward: Callable[[], tuple[Any, Any]],
                 record: Callable[[int, Any, Any], None], steps: int, log_every: int) -> None:
    """Run ``steps`` optimizer steps of ``opt`` on the loss ``forward()`` returns.

    ``forward()`` returns ``(loss, context)``; ``record(step, loss, context)`` is called
    without gradient tracking at steps ``0, log_every, 2 log_every, ...`` and at the last
    step, whose loss is recorded but not stepped on.
    """
    import torch

    for step in range(steps + 1):
        loss, context = forward()
        if step % log_every == 0 or step == steps:
            with torch.no_grad():
                record(step, loss, context)
        if step == steps:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
