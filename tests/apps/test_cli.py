import subprocess
import sys

import minigrad
from minigrad.apps.cli import main


def test_version_and_help(capsys):
    result = subprocess.run([sys.executable, "-m", "minigrad", "--version"], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == f"minigrad {minigrad.__version__}"
    assert main([]) == 0
    assert "usage: minigrad" in capsys.readouterr().out
