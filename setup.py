"""Installs the `tf1_lstm` package and the `tf1-lstm` command.

Exact pins live in requirements.txt (shared with the Dockerfile); the ranges here only say what
the code can run on.
"""

import re

from setuptools import find_packages, setup

with open("tf1_lstm/__init__.py") as f:
    VERSION = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)

setup(
    name="tf1-lstm",
    version=VERSION,
    description="A faithful, pinned, tested reproduction of a TensorFlow 1.x MNIST row-LSTM",
    packages=find_packages(include=["tf1_lstm", "tf1_lstm.*"]),
    python_requires=">=3.6,<3.8",
    install_requires=["tensorflow>=1.15,<2", "numpy", "protobuf<4"],
    entry_points={"console_scripts": ["tf1-lstm = tf1_lstm.__main__:run"]},
)
