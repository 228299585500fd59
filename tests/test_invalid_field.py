"""Request fields named for Python callers, options for command-line users (issue #25): core raises
``InvalidField``, the CLI boundary (``clapcli.cli.cli_message``) maps each field to its flag."""

from __future__ import annotations

import pytest

from clapcli.cli import cli_message, flag_of
from clapcli.errors import InvalidField, UsageError


def test_one_field_is_prefixed_and_mapped() -> None:
    error = InvalidField("top_k", "must be >= 1")
    assert isinstance(error, UsageError)
    assert str(error) == "top_k: must be >= 1"
    assert cli_message(error) == "--top-k: must be >= 1"


def test_several_fields_and_values_with_braces() -> None:
    error = InvalidField("template", "{template} {value!r} must contain '{{}}' where the label goes", value="a {b}")
    assert str(error) == "template 'a {b}' must contain '{}' where the label goes"
    assert cli_message(error) == "--template 'a {b}' must contain '{}' where the label goes"


def test_flags_that_are_not_the_field_with_dashes() -> None:
    assert flag_of("captions") == "--captions-file"
    assert flag_of("rebuild_index") == "--rebuild-index"
    assert flag_of("--window") == "--window"
    assert cli_message(ValueError("plain")) == "plain"


def test_retrieve_request_names_fields() -> None:
    from clapcli.core.retrieve import RetrieveRequest

    with pytest.raises(InvalidField) as caught:
        RetrieveRequest(nprobe=4).check()
    assert str(caught.value) == "nprobe and rebuild_index go with approximate"
    assert cli_message(caught.value) == "--nprobe and --rebuild-index go with --approximate"
    with pytest.raises(InvalidField, match="^top_k: must be >= 1$"):
        RetrieveRequest(top_k=0).check()
    assert RetrieveRequest(approximate=True, nprobe=2).check().nprobe == 2


def test_model_flags_declared_once() -> None:
    import inspect

    from clapcli.commands import classify, retrieve
    from clapcli.commands import eval as eval_cmd
    from clapcli.console.options import MODEL_FLAGS

    for command, absent in ((classify.classify, set()), (retrieve.retrieve, {"quantize"}),
                            (eval_cmd.classify, set())):
        parameters = inspect.signature(command).parameters
        assert "model_options" not in parameters
        assert set(MODEL_FLAGS) - absent - {"model"} <= set(parameters)
        assert not absent & set(parameters)


def test_captions_with_a_text_query_names_the_current_flag(cli, tmp_path) -> None:
    """The CLI names --captions-file (its current spelling), Python callers the field ``captions``."""
    captions = tmp_path / "captions.txt"
    captions.write_text("a dog\n")
    result = cli(["retrieve", "not a file", "--captions-file", captions, "--model", "x"])
    assert result.exit_code == 2
    assert "--captions-file ranks captions for audio files; 'not a file' is not an existing file" in result.stderr
