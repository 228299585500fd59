"""``clap serve`` option values no server could use are usage errors naming the flag, before anything
is opened or imported."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-5"])
def test_max_upload_mb_must_be_a_positive_finite_number(cli, tmp_path, value):
    result = cli(["serve", "--db", tmp_path / "none.db", "--max-upload-mb", value])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip() == f"error: --max-upload-mb {float(value):g}: give a positive number of MB"
