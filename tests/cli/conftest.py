"""Shared helpers of the tests that drive the ``lamina`` command as a user would."""

import json

import pytest

from lamina.cli import main


@pytest.fixture
def cli(capsys):
    """cli(*argv) -> (exit code, stdout, stderr) of ``lamina argv...``."""

    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def cli_error(cli):
    """cli_error(*argv, match=..., code=2) -> the one error line, checked for the documented form."""

    def run(*argv, match, code=2):
        got, out, err = cli(*argv)
        assert got == code, (got, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("lamina: error: "), lines[0]
        assert match in lines[0], lines[0]
        assert "Traceback" not in err + out and "Error:" not in lines[0]  # no Python type names
        return lines[0]

    return run


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "xor"
    assert main(["train", "--data", "xor", "--epochs", "30", "--out", str(run), "--quiet"]) == 0
    return run


def read_json(path):
    return json.loads(path.read_text())
