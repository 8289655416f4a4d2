"""CNN Studio: a desktop lab for convolutional networks."""

__version__ = "0.1.0"
