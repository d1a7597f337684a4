"""An in-place op hidden in a helper function in another file (fails on purpose).

exp saves its output; helpers.normalize_ divides it in place. Fix: return t / t.norm() instead.
"""

import torch
from helpers import normalize_

w = torch.randn(5, requires_grad=True)
e = torch.exp(w)
unit = normalize_(e)
loss = (unit * e).sum()
loss.backward()
