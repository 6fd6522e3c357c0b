"""Post 002, "循环神经网络RNN和长短期记忆网络LSTM学习笔记" (PyTorch): a two-layer nn.LSTM(28, 128) +
Linear(128, 10), ToTensor, batch 100, shuffled, Adam(1e-3), 30 epochs, a test after each epoch,
then the saved model tested again. Shown whole; the changes: a comment's lost # (a SyntaxError as
printed), where RNN.pth is saved, and the one-image demo at the end left out."""

import os

import torch
from torch import nn, optim
from torch.utils.data import DataLoader

# torchvision's datasets and transforms, as the post names them, on torch alone
from tf1_lstm.posts import torchdata as T
from tf1_lstm.posts import torchdata as datasets
from tf1_lstm.posts.torchdata import framework, seeded  # noqa: F401 (the runner's)

batch_size = 100   # 批量大小
lr = 1e-3          # 学习率
num_epoches = 30   # 训练迭代周期
use_gpu = False    # the post: torch.cuda.is_available(); the CPU build has none


class RNN(nn.Module):
    def __init__(self, in_dim, hidden_dim, n_layer, n_class):
        super(RNN, self).__init__()
        self.lstm = nn.LSTM(in_dim, hidden_dim, n_layer, batch_first=True)
        self.classifer = nn.Linear(hidden_dim, n_class)

    def forward(self, x):
        out, _ = self.lstm(x)   # 输出为output(batch,seq_len, hidden_size * num_directions)
        out = out[:, -1, :]      # seq=-1,即取每张图片数据的最后一个h,即hn
        out = self.classifer(out)  # hn后接全连接层,使用softmax损失函数
        return out                # 返回最后的输出


def build(post_id="002"):
    return RNN(28, 128, 2, 10)


def evaluate(model, criterion, test_loader):
    """The post's test pass (as it writes it twice: after each epoch, and the final test)."""
    eval_loss, eval_acc, batch_means = 0.0, 0.0, 0.0
    for data in test_loader:
        img, label = data
        b, c, h, w = img.size()
        assert c == 1, 'channel must be 1'
        img = img.squeeze(1)
        with torch.no_grad():        # 测试模式无需梯度
            out = model(img)
            loss = criterion(out, label)
        eval_loss += loss.item()
        _, pred = torch.max(out, 1)
        num_correct = (pred == label).sum()
        eval_acc += num_correct.item()
        batch_means += (pred == label).float().mean()
    return eval_loss, eval_acc, batch_means


def main(ctx):
    """The post's program."""
    train_dataset = datasets.MNIST(ctx.train_images, ctx.train_labels, transform=T.ToTensor())
    test_dataset = datasets.MNIST(ctx.test_images, ctx.test_labels, transform=T.ToTensor())
    train_loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test_dataset, batch_size=batch_size, shuffle=False)
    model = RNN(28, 128, 2, 10)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)

    # --- the post's loop ------------------------------------------------------------------
    for epoch in range(ctx.epochs):
        ctx.say('*' * 20)
        ctx.say("epoch{}".format(epoch + 1))
        train_loss = 0.0          # 训练损失函数计算
        train_acc = 0.0           # 训练准确度计算
        model.train()  # 置模型于训练模式
        for i, data in enumerate(train_loader):  # 一次循环读入一个batch
            img, label = data           # 读入图像张量和标签张量
            b, c, h, w = img.size()     # MINST为黑白单通道图片
            assert c == 1
            img = img.squeeze(1)  # size b h w  去除通道维度
            out = model(img)  # input(batch,seq_len,in_dim)
            loss = criterion(out, label)   # 计算损失函数
            train_loss += loss.item()     # 记录总的损失函数
            _, pred = torch.max(out, 1)
            num_correct = (pred == label).sum()
            train_acc += num_correct.item()    # 计算正确总个数
            optimizer.zero_grad()     # 梯度清零
            loss.backward()           # 梯度反向传播
            optimizer.step()          # 优化器前进step
            ctx.batch_done(loss.item(), num_correct.item(), b)
        ctx.say('Finish {} epoch, Loss: {:.6f}, Acc: {:.6f}'.format(
            epoch + 1, train_loss / (len(train_dataset)), train_acc / (len(train_dataset))))
        model.eval()  # 置模型于测试模式
        eval_loss, eval_acc, _ = evaluate(model, criterion, test_loader)
        ctx.say('Test Loss: {:.6f}, Acc: {:.6f}'.format(eval_loss / (len(
            test_dataset)), eval_acc / (len(test_dataset))))
        ctx.epoch_done(epoch + 1, test_accuracy=eval_acc / len(test_dataset))

    saved = os.path.join(ctx.run_dir, 'RNN.pth')  # changed: the post saves to ./RNN.pth
    torch.save(model.state_dict(), saved)
    model.load_state_dict(torch.load(saved))
    ctx.say('Final Test')
    model.eval()
    eval_loss, eval_acc, batch_means = evaluate(model, criterion, test_loader)
    ctx.say(f'Test Loss: {eval_loss/len(test_loader):.6f}, Acc: {batch_means/len(test_loader):.6f}')
    # --- end of the post's loop -----------------------------------------------------------
    return {"test_accuracy": eval_acc / len(test_dataset)}
