"""Kept for editable installs with Python 3.6's pip and setuptools; the metadata is in setup.cfg."""

from setuptools import setup

setup()
