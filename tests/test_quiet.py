"""TensorFlow's start-up noise stays out of notebooks and the command line; a closed pipe is
not an error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from galaxylab.backend import stderr_muted

ROOT = Path(__file__).resolve().parents[1]


def test_stderr_muted_hides_low_level_writes_and_restores_them(capfd: pytest.CaptureFixture):
    with stderr_muted():
        os.write(2, b"hidden C++ notice\n")
    os.write(2, b"visible again\n")
    err = capfd.readouterr().err
    assert "hidden" not in err and "visible again" in err


def test_course_setup_gives_a_notebook_tensorflow_without_start_up_noise() -> None:
    code = (
        "import sys, types; sys.modules['ipykernel'] = types.ModuleType('ipykernel'); "
        "import galaxylab, galaxylab.course; assert 'tensorflow' not in sys.modules; "
        "galaxylab.course.setup(); galaxylab.course.setup(); "
        "import tensorflow as tf; print(int(tf.reduce_sum(tf.ones(3))), "
        "tf.get_logger().getEffectiveLevel() == 40)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3 True", "TensorFlow's warnings are held back (level ERROR)"
    assert done.stderr == ""


def test_the_command_line_does_not_import_tensorflow_for_inspect() -> None:
    code = (
        "import sys; from galaxylab import cli; import galaxylab.datasets; "
        "print('tensorflow' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.stdout.strip() == "False", done.stderr


def test_a_reader_that_goes_away_is_not_a_traceback(small_universe: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "galaxylab", "inspect", "--data", str(small_universe)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # like `galaxylab inspect ... | head -0`
    err = process.stderr.read().decode()
    process.wait(timeout=300)
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert process.returncode == 1
