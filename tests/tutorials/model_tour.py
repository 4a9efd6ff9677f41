"""A tour of building a model with torch.nn: a Module subclass, its layers one by one,
predicting a class, and listing the parameters.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
nn.Module subclassing, nn.Flatten, nn.Sequential, nn.Linear, nn.ReLU, nn.Softmax(dim=1),
argmax(1), printing a model, named_parameters with sizes, torch.accelerator. The parameter
values printed after "Model structure" are random; their shapes are not.
"""
import torch
from torch import nn

device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Running on {device}")


class SmallClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(
            nn.Linear(6 * 6, 24),
            nn.ReLU(),
            nn.Linear(24, 24),
            nn.ReLU(),
            nn.Linear(24, 5),
        )

    def forward(self, images):
        return self.layers(self.flatten(images))


model = SmallClassifier().to(device)
print(model)

images = torch.rand(2, 6, 6, device=device)
logits = model(images)
probabilities = nn.Softmax(dim=1)(logits)
print(f"logits: {logits.shape}, probabilities sum to one: {probabilities.sum(1)}")
print(f"predicted classes: {probabilities.argmax(1)}")

# the layers one at a time on a small batch
batch = torch.rand(3, 6, 6)
flat = nn.Flatten()(batch)
print(f"flattened: {flat.size()}")
first = nn.Linear(in_features=36, out_features=10)
hidden = first(flat)
print(f"before ReLU: {hidden}\n")
hidden = nn.ReLU()(hidden)
print(f"after ReLU: {hidden}")
pipeline = nn.Sequential(nn.Flatten(), first, nn.ReLU(), nn.Linear(10, 4))
print(f"pipeline output: {pipeline(batch).shape}")
print(f"softmax over classes:\n{nn.Softmax(dim=1)(pipeline(batch))}")

print(f"Model structure: {model}\n")
for name, param in model.named_parameters():
    print(f"Layer: {name} | Size: {param.size()} | Values: {param[:2]}\n")
