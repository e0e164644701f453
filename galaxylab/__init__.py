"""galaxylab: the package behind a notebook course on Galaxy Zoo morphology with CNNs."""

__version__ = "0.1.0"
