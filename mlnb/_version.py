"""The mlnb version, in a module of its own so that front ends can read it without the package root."""

__version__ = "0.1.0"
