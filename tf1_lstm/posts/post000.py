"""Post 000, "LSTM使用MNIST手写数字识别实战的代码和心得" (PyTorch): nn.LSTM(28, 128) + Linear(128, 10),
batch 100, 10 epochs, lr 0.01. It shows the hyperparameters, the model and its output; the rest
is the tutorial it follows (yunjey/pytorch-tutorial's recurrent_neural_network), a labelled
change (tf1_lstm.posts: POSTS[0].changes)."""

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

# torchvision's datasets and transforms, as the tutorial names them, on torch alone
from tf1_lstm.posts import torchdata as datasets
from tf1_lstm.posts import torchdata as transforms
from tf1_lstm.posts.torchdata import framework, seeded  # noqa: F401 (the runner's)

device = torch.device("cpu")

# 定义超参数 (the post's hyperparameters)
input_size = 28
time_step = 28  # 时间序列
Layers = 1  # 隐藏单元的个数
hidden_size = 128  # 每个隐藏单元中神经元个数
classes = 10
batch_size = 100
EPOCHS = 10
learning_rate = 0.01  # 学习率


# Long Short-Term Memory(长短时记忆网络): the post's class, as printed
class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, Layers, classes):
        super(RNN, self).__init__()
        self.Layers = Layers
        self.hidden_size = hidden_size
        self.lstm = nn.LSTM(input_size, hidden_size, Layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, classes)

    def forward(self, x):
        # 设置初始隐藏状态和单元格状态
        h0 = torch.zeros(self.Layers, x.size(0), self.hidden_size).to(device)
        c0 = torch.zeros(self.Layers, x.size(0), self.hidden_size).to(device)
        out, _ = self.lstm(x, (h0, c0))  # torch.Size([100, 28, 128])
        out = self.fc(out[:, -1, :])  # torch.Size([100, 10])
        return out


def build(post_id="000"):
    return RNN(input_size, hidden_size, Layers, classes).to(device)


def main(ctx):
    """The post's program (its loop from the tutorial: a labelled change)."""
    train_dataset = datasets.MNIST(ctx.train_images, ctx.train_labels,
                                   transform=transforms.ToTensor())
    test_dataset = datasets.MNIST(ctx.test_images, ctx.test_labels,
                                  transform=transforms.ToTensor())
    train_loader = DataLoader(dataset=train_dataset, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(dataset=test_dataset, batch_size=batch_size, shuffle=False)
    model = build()
    ctx.say(str(model))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

    # --- the post's loop ------------------------------------------------------------------
    for epoch in range(ctx.epochs):
        for i, (images, labels) in enumerate(train_loader):
            images = images.reshape(-1, time_step, input_size).to(device)
            labels = labels.to(device)
            outputs = model(images)
            loss = criterion(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            ctx.batch_done(loss.item(), (outputs.argmax(1) == labels).sum().item(), len(labels))
        ctx.say('Epoch [{}/{}],  Loss: {:.4f}'.format(epoch + 1, ctx.epochs, loss.item()))
        ctx.epoch_done(epoch + 1)

    model.eval()
    with torch.no_grad():
        correct = 0
        total = 0
        for images, labels in test_loader:
            images = images.reshape(-1, time_step, input_size).to(device)
            labels = labels.to(device)
            outputs = model(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
        ctx.say('Test Accuracy to test: {} %'.format(100 * correct / total))
    # --- end of the post's loop -----------------------------------------------------------
    return {"test_accuracy": correct / total}
