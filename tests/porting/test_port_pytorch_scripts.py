"""PyTorch scripts of the kinds people port (a Bengio-style character MLP with hand-written updates, the PyTorch
quickstart's Module/DataLoader/train/test loop with save and load, a small regression), written against torch and
run on lamina by changing the imports only. Each also runs on torch here, so the script itself is known good."""

import numpy as np
import pytest

PRELUDES = {
    "torch": "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
             "from torch.utils.data import DataLoader, TensorDataset\n",
    "lamina": "import lamina as torch\nfrom lamina import nn\nimport lamina.nn.functional as F\n"
              "from lamina.utils.data import DataLoader, TensorDataset\n",
}

CHAR_MLP = '''
words = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn", "abigail", "emily",
         "ella", "elizabeth", "camila", "luna", "sofia", "avery", "mila", "aria", "scarlett"] * 5
chars = sorted(list(set("".join(words))))
stoi = {s: i + 1 for i, s in enumerate(chars)}
stoi["."] = 0
block_size = 3
X, Y = [], []
for w in words:
    context = [0] * block_size
    for ch in w + ".":
        ix = stoi[ch]
        X.append(context)
        Y.append(ix)
        context = context[1:] + [ix]
X = torch.tensor(X)
Y = torch.tensor(Y)
g = torch.Generator().manual_seed(2147483647)
vocab = len(stoi)
C = torch.randn((vocab, 10), generator=g)
W1 = torch.randn((30, 64), generator=g) * 0.2
b1 = torch.randn(64, generator=g) * 0.01
W2 = torch.randn((64, vocab), generator=g) * 0.1
b2 = torch.randn(vocab, generator=g) * 0
parameters = [C, W1, b1, W2, b2]
print(sum(p.nelement() for p in parameters))
for p in parameters:
    p.requires_grad = True
first = None
for i in range(300):
    ix = torch.randint(0, X.shape[0], (32,), generator=g)
    emb = C[X[ix]]
    h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
    logits = h @ W2 + b2
    loss = F.cross_entropy(logits, Y[ix])
    for p in parameters:
        p.grad = None
    loss.backward()
    lr = 0.1 if i < 200 else 0.01
    for p in parameters:
        p.data += -lr * p.grad
    first = loss.item() if first is None else first
with torch.no_grad():
    emb = C[X]
    h = torch.tanh(emb.view(emb.shape[0], -1) @ W1 + b1)
    final = F.cross_entropy(h @ W2 + b2, Y).item()
RESULT = (first, final)
'''

QUICKSTART = '''
from sklearn.datasets import load_digits
digits = load_digits()
images = torch.tensor(digits.images[:1200] / 16.0, dtype=torch.float32)
labels = torch.tensor(digits.target[:1200])
train_data = TensorDataset(images[:1000], labels[:1000])
test_data = TensorDataset(images[1000:], labels[1000:])
batch_size = 64
train_dataloader = DataLoader(train_data, batch_size=batch_size, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=batch_size)
device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
torch.manual_seed(0)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(nn.Linear(8 * 8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                               nn.Linear(64, 10))

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork().to(device)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)


def train(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 10 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f}")
    return correct


for t in range(8):
    train(train_dataloader, model, loss_fn, optimizer)
accuracy = test(test_dataloader, model, loss_fn)
torch.save(model.state_dict(), PATH)
model = NeuralNetwork().to(device)
model.load_state_dict(torch.load(PATH, weights_only=True))
RESULT = (accuracy, test(test_dataloader, model, loss_fn))
'''

REGRESSION = '''
torch.manual_seed(1)
x = torch.unsqueeze(torch.linspace(-1, 1, 100), dim=1)
y = x.pow(3) - 0.5 * x + 0.05 * torch.randn(x.size())
net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
loss_func = torch.nn.MSELoss()
losses = []
for t in range(300):
    prediction = net(x)
    loss = loss_func(prediction, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
RESULT = (losses[0], losses[-1])
'''


def run(script, lib, tmp_path):
    if lib == "torch":
        pytest.importorskip("torch")
    namespace = {"PATH": str(tmp_path / f"{lib}.pth")}
    exec(PRELUDES[lib] + script, namespace)  # noqa: S102 - the test's own scripts
    return namespace["RESULT"]


@pytest.mark.parametrize("lib", ["lamina", "torch"])
def test_character_mlp_with_hand_written_updates(lib, tmp_path):
    first, final = run(CHAR_MLP, lib, tmp_path)
    assert first > 2.5 and final < 1.2  # from about ln 17 to a few guesses per character


@pytest.mark.parametrize("lib", ["lamina", "torch"])
def test_quickstart_loop_with_save_and_load(lib, tmp_path):
    accuracy, reloaded = run(QUICKSTART, lib, tmp_path)
    assert accuracy > 0.85 and reloaded == accuracy


@pytest.mark.parametrize("lib", ["lamina", "torch"])
def test_regression(lib, tmp_path):
    first, last = run(REGRESSION, lib, tmp_path)
    assert last < 0.01 < first and np.isfinite(last)
