"""The packages type-check: mypy, with the settings of pyproject.toml's ``[tool.mypy]``."""

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[1]


def test_the_packages_are_mypy_clean(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    report, errors, status = api.run(["--config-file", "pyproject.toml", "--cache-dir", str(tmp_path)])
    assert status == 0, report + errors
    assert "Success: no issues found" in report
