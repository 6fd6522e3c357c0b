"""Post 001, "pytorch利用lstm做mnist手写数字识别分类的实例" (PyTorch): nn.LSTM(28, 64) + Linear(64, 10),
ToTensor + Normalize, Adam(0.001), CrossEntropyLoss, 10 epochs. As printed it does not run: the
loaders' (B, 1, 28, 28) batches reach nn.LSTM ("LSTM: Expected input to be 2D or 3D, got 4D
instead") and test_model calls F without importing it; the batch size is not shown. Each fix is
marked `# changed:` (tf1_lstm.posts: POSTS[1].changes)."""

import torch
import torch.nn as nn
import torch.nn.functional as F  # changed: the post calls F.cross_entropy without this import
import torch.optim as optim
from torch.utils.data import DataLoader

# torchvision's datasets and transforms, as the post names them, on torch alone
from tf1_lstm.posts import torchdata as datasets
from tf1_lstm.posts import torchdata as transforms
from tf1_lstm.posts.torchdata import framework, seeded  # noqa: F401 (the runner's)

BATCH_SIZE = 64  # changed: not shown; PyTorch's MNIST example's


# 定义LSTM网络模型: the post's class, as printed
class LSTMNet(nn.Module):
    def __init__(self):
        super(LSTMNet, self).__init__()
        self.lstm_1 = nn.LSTM(input_size=28, hidden_size=64, num_layers=1, batch_first=True)
        self.fc_1 = nn.Linear(64, 10)

    def forward(self, x):
        out, (h_n, c_n) = self.lstm_1(x, None)
        out = self.fc_1(out[:, -1, :])
        return out


def build(post_id="001"):
    return LSTMNet()


def train_model(model, optimizer, loss_fn, train_loader, device, ctx):
    model.train()
    for batch_idx, (inputs, targets) in enumerate(train_loader):
        inputs, targets = inputs.to(device), targets.to(device)
        inputs = inputs.view(-1, 28, 28)  # changed: (B, 1, 28, 28) -> (B, 28, 28) rows
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        loss.backward()
        optimizer.step()
        ctx.batch_done(loss.item(), (outputs.argmax(1) == targets).sum().item(), len(targets))


def test_model(model, test_loader, device, ctx):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for inputs, targets in test_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            inputs = inputs.view(-1, 28, 28)  # changed: as in train_model
            outputs = model(inputs)
            test_loss += F.cross_entropy(outputs, targets).item()
            _, predicted = outputs.max(1)
            correct += predicted.eq(targets).sum().item()
    test_loss /= len(test_loader.dataset)
    acc = 100. * correct / len(test_loader.dataset)
    ctx.say('Test set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset), acc))
    return correct / len(test_loader.dataset)


def main(ctx):
    """The post's program."""
    # 定义数据预处理方法
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(ctx.train_images, ctx.train_labels, transform=transform)
    test_set = datasets.MNIST(ctx.test_images, ctx.test_labels, transform=transform)
    # changed: the loaders are shown nowhere; the batch size chosen, train shuffled
    train_loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=BATCH_SIZE, shuffle=False)
    lstmNet = LSTMNet()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(lstmNet.parameters(), lr=0.001)
    device = 'cpu'
    # --- the post's loop ------------------------------------------------------------------
    epochs = ctx.epochs
    for epoch in range(epochs):
        train_model(lstmNet, optimizer, loss_fn, train_loader, device, ctx)
        ctx.epoch_done(epoch + 1)
    accuracy = test_model(lstmNet, test_loader, device, ctx)
    # --- end of the post's loop -----------------------------------------------------------
    return {"test_accuracy": accuracy}
