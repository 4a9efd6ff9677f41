"""A tour of tensors: making them, their attributes, indexing, joining, arithmetic, in-place
operations and the NumPy bridge.

Written for symgrad's tests in the style of PyTorch's beginner tutorials. Exercises
torch.tensor from lists, torch.from_numpy and .numpy() sharing memory, *_like creation,
rand/ones/zeros with shape tuples, shape/dtype/device, torch.accelerator, indexing and
slicing (with assignment), torch.cat/stack, `@`, matmul(out=), `*`, mul(out=),
sum().item(), add_. Everything after "Fixed values" prints no random number.
"""
import numpy as np
import torch

# ---- making tensors
grid = [[3, 1], [4, 1], [5, 9]]
from_list = torch.tensor(grid)
from_array = torch.from_numpy(np.array(grid))
print(f"From a list:\n{from_list}\n")
print(f"From NumPy:\n{from_array}\n")

like_ones = torch.ones_like(from_list)
like_rand = torch.rand_like(from_list, dtype=torch.float)
print(f"ones_like:\n{like_ones}\n")
print(f"rand_like:\n{like_rand}\n")

size = (2, 4)
print(f"rand{size}:\n{torch.rand(size)}\n")
print(f"ones{size}:\n{torch.ones(size)}\n")
print(f"zeros{size}:\n{torch.zeros(size)}\n")

# ---- attributes
sample = torch.rand(5, 2)
print(f"shape: {sample.shape}")
print(f"dtype: {sample.dtype}")
print(f"device: {sample.device}")
if torch.accelerator.is_available():
    sample = sample.to(torch.accelerator.current_accelerator())
print(f"still on: {sample.device}\n")

print("Fixed values")
# ---- indexing and slicing
m = torch.arange(12.0).reshape(3, 4)
print(f"row 1: {m[1]}")
print(f"column 2: {m[:, 2]}")
print(f"last column: {m[..., -1]}")
print(f"corner block:\n{m[:2, 2:]}")
m[:, 0] = -1
m[2] = 0.5
print(m)

# ---- joining
joined = torch.cat([m, m[:1]], dim=0)
print(f"cat along rows: {joined.shape}")
print(torch.cat((m, m), dim=1))
stacked = torch.stack([m, 2 * m])
print(f"stack: {stacked.shape}, {stacked[1, 0]}")

# ---- arithmetic
square = m @ m.T
product = torch.ones(3, 3)
torch.matmul(m, m.T, out=product)
print(f"m @ m.T:\n{square}\nequal to matmul(out=): {bool((square == product).all())}")
elementwise = m * m
into = torch.empty_like(m)
torch.mul(m, m, out=into)
print(f"m * m:\n{elementwise}\nsame as mul(out=): {torch.equal(elementwise, into)}")

total = m.sum()
value = total.item()
print(total, value, type(value).__name__)

print(f"before add_:\n{m}")
m.add_(10)
print(f"after add_:\n{m}")

# ---- the NumPy bridge: both sides see every change
t = torch.ones(4)
n = t.numpy()
print(f"t: {t}, n: {n}")
t.add_(2)
print(f"after t.add_(2): t: {t}, n: {n}")
a = np.zeros(3)
b = torch.from_numpy(a)
np.add(a, 5, out=a)
print(f"after np.add(out=): b: {b}, a: {a}")
