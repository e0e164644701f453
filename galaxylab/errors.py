"""The one exception type the package raises for bad input, so the CLI can print one clear line."""


class GalaxyLabError(Exception):
    """Bad input or an impossible request; the message names the file and the problem."""
