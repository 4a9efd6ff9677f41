"""Least-squares cubic for sin(x) fitted three times, by torch.optim's SGD (with momentum),
Adam and RMSprop.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
optimizer.zero_grad() / step(), nn.Linear's parameters set in place under no_grad
(copy_, zero_), nn.MSELoss; fixed starting values, so the printed losses can be compared
with PyTorch's, up to the RMSprop run: its steps of about lr each make it wander near the
optimum, where float32 rounding decides the last digits. The RMSprop run prints `step loss`
lines; the others name themselves.
"""
import math

import torch

xs = torch.linspace(-math.pi, math.pi, 2000)
ys = torch.sin(xs)
inputs = torch.stack([xs, xs ** 2, xs ** 3], 1)


def fresh_model():
    layer = torch.nn.Linear(3, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.3, -0.1, 0.05]]))
        layer.bias.zero_()
    return torch.nn.Sequential(layer, torch.nn.Flatten(0, 1))


def fit(make_optimizer, steps, label):
    model = fresh_model()
    optimizer = make_optimizer(model.parameters())
    loss_fn = torch.nn.MSELoss(reduction="sum")
    for i in range(steps):
        loss = loss_fn(model(inputs), ys)
        if i % 125 == 124:
            print(f"{label}{i} {loss.item()}" if label else f"{i} {loss.item()}")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    layer = model[0]
    return [layer.bias.item()] + layer.weight.flatten().tolist()


sgd = fit(lambda ps: torch.optim.SGD(ps, lr=1e-6, momentum=0.9), 500, "SGD ")
print("SGD: y = {} + {} x + {} x^2 + {} x^3".format(*sgd))
adam = fit(lambda ps: torch.optim.Adam(ps, lr=0.01), 500, "Adam ")
print("Adam: y = {} + {} x + {} x^2 + {} x^3".format(*adam))
print("RMSprop")
rms = fit(lambda ps: torch.optim.RMSprop(ps, lr=1e-3), 2000, "")
print("Result: y = {} + {} x + {} x^2 + {} x^3".format(*rms))
