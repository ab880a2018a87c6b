"""Lets pip install the project editable without the wheel package (setup.py develop):
setuptools 65 builds PEP 660 editable wheels only with wheel installed. Config: pyproject.toml."""

from setuptools import setup

setup()
