"""REINFORCE, after the PyTorch example, but the episode's log-probabilities are never cleared:
the second update backpropagates through the first episode's graph again."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.affine = nn.Linear(4, 32)
        self.head = nn.Linear(32, 2)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, obs):
        return F.softmax(self.head(F.relu(self.affine(obs))), dim=-1)


policy = Policy()
optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)


def select_action(obs):
    m = Categorical(policy(obs))
    action = m.sample()
    policy.saved_log_probs.append(m.log_prob(action))
    return action.item()


def finish_episode():
    returns = torch.tensor(policy.rewards[::-1]).cumsum(0).flip(0)
    loss = torch.stack(
        [-lp * r for lp, r in zip(policy.saved_log_probs, returns, strict=False)]
    ).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    del policy.rewards[:]


torch.manual_seed(0)
for _episode in range(3):
    for _ in range(5):
        select_action(torch.randn(4))
        policy.rewards.append(1.0)
    finish_episode()
