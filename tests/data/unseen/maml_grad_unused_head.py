"""A MAML-style inner step taking gradients over every parameter of a two-headed model while
the task's loss uses one head."""

import torch
import torch.nn as nn


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 16)
        self.cls_head = nn.Linear(16, 4)
        self.reg_head = nn.Linear(16, 1)

    def forward(self, x):
        return self.cls_head(torch.relu(self.body(x)))


net = TwoHeads()
support_x, support_y = torch.randn(10, 6), torch.randint(0, 4, (10,))
inner_loss = nn.functional.cross_entropy(net(support_x), support_y)
grads = torch.autograd.grad(inner_loss, list(net.parameters()), create_graph=True)
fast = [p - 0.01 * g for p, g in zip(net.parameters(), grads, strict=True)]
