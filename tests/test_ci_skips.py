"""Under CI a skipped test fails (tests/conftest.py): a run missing an optional package is not green."""

from pathlib import Path

pytest_plugins = ["pytester"]

SKIPPING_TEST = "import pytest\n\ndef test_needs_a_package():\n    pytest.importorskip('a_package_nobody_installed')\n"


def test_a_skip_is_a_failure_under_ci_and_a_skip_otherwise(pytester, monkeypatch):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(SKIPPING_TEST)
    monkeypatch.setenv("CI", "true")
    under_ci = pytester.runpytest()
    under_ci.assert_outcomes(failed=1)
    under_ci.stdout.fnmatch_lines(["*skipped under CI*a_package_nobody_installed*"])
    monkeypatch.delenv("CI")
    pytester.runpytest().assert_outcomes(skipped=1)
