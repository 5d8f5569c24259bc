"""The one training loop of the learned spotters: epochs of batches, one optimiser step each, mean loss per epoch.

Each model supplies what differs: the batches of an epoch (sampling, balancing) and the loss of one batch
(inputs, augmentation, targets). Progress is reported per step so a long fit shows a moving bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np


def train_epochs(model, optimizer, epochs: int, batches: Callable[[int], Iterable],
                 loss_of: Callable[[object], object], steps_per_epoch: int,
                 progress: Callable[[int, int | None], None] | None = None,
                 on_epoch: Callable[[int, object, list[float]], None] | None = None) -> list[float]:
    """Run ``epochs`` epochs; ``batches(epoch)`` yields batches, ``loss_of(batch)`` returns a scalar tensor.

    ``on_epoch(n, model, losses)`` sees the model (in eval mode) before training (``n`` = 0) and after each epoch
    ``n`` = 1, 2, ...: a budget curve from one run (the optimiser's state and the sampling carry on as if nobody
    had looked).
    Returns the mean training loss of every epoch; the model is left in eval mode.
    """
    total = epochs * steps_per_epoch
    step = 0
    history = []
    if on_epoch is not None:
        model.eval()
        on_epoch(0, model, [])
    for epoch in range(epochs):
        model.train()
        losses = []
        for batch in batches(epoch):
            loss = loss_of(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            step += 1
            if progress:
                progress(step, total)
        history.append(float(np.mean(losses)) if losses else float("nan"))
        if on_epoch is not None:
            model.eval()
            on_epoch(epoch + 1, model, list(history))
    model.eval()
    return history
