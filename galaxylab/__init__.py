"""galaxylab: the package behind a notebook course on Galaxy Zoo morphology with CNNs.

Importing it does nothing but define the version: notebooks call :func:`galaxylab.course.setup`
first, and the command line imports TensorFlow only for the commands that need it.
"""

__version__ = "0.1.0"
