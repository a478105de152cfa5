"""Where computation runs: ``auto`` picks CUDA when torch sees a GPU (torch imported only when asked)."""

from __future__ import annotations

from engine.errors import ValidationError


def resolve_device(device: str = "auto") -> str:
    """``auto`` picks CUDA when torch sees a GPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValidationError(f"device must be auto, cpu or cuda; got {device!r}.")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValidationError("device 'cuda' was asked for, but torch sees no GPU here. Use --device auto or cpu.")
    return device
