"""An actor-critic with a shared trunk: the actor's loss and the critic's loss are each
backpropagated, through the one trunk graph."""

import torch
import torch.nn as nn
from torch.distributions import Normal

trunk = nn.Sequential(nn.Linear(3, 32), nn.Tanh())
actor, critic = nn.Linear(32, 1), nn.Linear(32, 1)
params = [*trunk.parameters(), *actor.parameters(), *critic.parameters()]
opt = torch.optim.Adam(params, lr=3e-4)

state, reward = torch.randn(16, 3), torch.randn(16, 1)
features = trunk(state)
dist = Normal(actor(features), 1.0)
action = dist.sample()
value = critic(features)
advantage = reward - value
actor_loss = -(dist.log_prob(action) * advantage.detach()).mean()
critic_loss = advantage.pow(2).mean()
opt.zero_grad()
actor_loss.backward()
critic_loss.backward()
opt.step()
