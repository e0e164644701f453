"""Self-checks for the "Your turn" exercises: one function per exercise, in a module per notebook.

A student calls the check with their answer. A right answer prints one friendly sentence
starting with ✓ and returns True; a wrong one raises :class:`NotYet`, whose message says in one
sentence what is wrong without giving the answer away. In a notebook, NotYet shows as that one
line, without a traceback; the course's own solution cells call the checks too, so CI proves
that every check accepts its solution.

    from galaxylab.checks import three_class as check
    check.class_weights(my_weights, y_train)
"""

from __future__ import annotations


class NotYet(AssertionError):
    """A wrong or incomplete answer; the message says what to look at."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows only the hint, not a traceback: a student's answer is not a crash."""
        return [f"✗ {self}"]


def passed(message: str) -> bool:
    """Print the ✓ sentence of a right answer and return True."""
    print(f"✓ {message}")
    return True


def require(condition: bool, hint: str) -> None:
    """Raise NotYet with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise NotYet(hint)


def close(value: object, expected: float, tolerance: float) -> bool:
    """True when ``value`` is a number within ``tolerance`` of ``expected``."""
    try:
        return abs(float(value) - float(expected)) <= tolerance  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
