"""The one exception type the package raises for bad input, so the CLI can print one clear line.

Convention: every bad input or impossible request raises :class:`GalaxyLabError` with a message
that names the file (and line or galaxy) and the problem in one line. It subclasses
``ValueError`` so code written against plain Python expectations still catches it. When it
replaces a lower-level error, raise it ``from error`` so the cause stays available to a
debugger; the command line prints only the message.
"""


class GalaxyLabError(ValueError):
    """Bad input or an impossible request; the message names the file and the problem."""
