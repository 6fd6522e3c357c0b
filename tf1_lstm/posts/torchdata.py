"""torchvision's MNIST pipeline on torch alone: datasets.MNIST, ToTensor, Normalize, Compose.

PyPI's torchvision is built against the CUDA torch and does not import beside the CPU build
(docs/posts.md), so the PyTorch posts use these instead: the same items, the same float32
arithmetic, the same DataLoader (torch's own) and so the same shuffling. tests/test_posts.py holds
them to torchvision's documented semantics on fixed inputs.
"""

import torch
import torch.utils.data


class MNIST(torch.utils.data.Dataset):
    """datasets.MNIST(root, train, transform) over the verified IDX arrays: item i is
    (transform(image i), label i as an int). torchvision hands the transform a PIL 'L' image
    of the uint8 28x28 array; ToTensor below reads this uint8 tensor as it reads that image."""

    def __init__(self, images, labels, transform=None):
        self.data = torch.from_numpy(images.copy())      # uint8, (N, 28, 28), writable
        self.targets = torch.from_numpy(labels).long()   # int64, (N,)
        self.transform = transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        return img, target


class ToTensor:
    """transforms.ToTensor() of an 8-bit grey image: a (1, H, W) float32 tensor, pixel / 255."""

    def __call__(self, pic):
        return pic.unsqueeze(0).to(dtype=torch.get_default_dtype()).div(255)


class Normalize:
    """transforms.Normalize(mean, std): (tensor - mean) / std per channel, in the tensor's
    dtype, on a copy."""

    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    def __call__(self, tensor):
        mean = torch.as_tensor(self.mean, dtype=tensor.dtype).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=tensor.dtype).view(-1, 1, 1)
        return tensor.clone().sub_(mean).div_(std)


class Compose:
    """transforms.Compose(transforms): each in turn."""

    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img


def seeded(seed, threads):
    """The determinism switches a PyTorch port runs under (recorded with the run): the global
    seed (weights, DataLoader's shuffling), deterministic algorithms, and the thread count."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    if threads:
        torch.set_num_threads(threads)
    return {"torch.manual_seed": seed, "torch.use_deterministic_algorithms": True,
            "torch.get_num_threads": torch.get_num_threads()}


def framework():
    """What a PyTorch run's bits depend on, beyond the CPU: version, build, kernels chosen."""
    import torch.backends.cpu
    return {"framework": "PyTorch", "version": torch.__version__,
            "git": torch.version.git_version, "cpu_capability":
            torch.backends.cpu.get_cpu_capability(), "mkldnn": torch.backends.mkldnn.is_available()}
