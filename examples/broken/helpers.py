"""Helpers for helper_inplace.py: one of them changes its argument in place."""

import torch


def normalize_(t: torch.Tensor) -> torch.Tensor:
    t.div_(t.norm())  # in place, on purpose: the caller's tensor changes
    return t
