"""The expected outputs of NBVAL_CHECK_OUTPUT cells live in metadata, not in outputs."""

import nbformat
from nbval_expected import inject, output_text, strip


def notebook():
    nb = nbformat.v4.new_notebook()
    checked = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1 + 1)")
    checked.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    checked.execution_count = 3
    plain = nbformat.v4.new_code_cell("x = 1\nx")
    plain.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=4)]
    plain.execution_count = 4
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), checked, plain]
    return nb


def test_strip_moves_checked_output_to_metadata_and_clears_everything():
    nb = strip(notebook())
    checked, plain = nb.cells[1], nb.cells[2]
    assert checked.metadata["lrcourse"]["expected_outputs"] == [{"stdout": "2\n"}]
    for cell in (checked, plain):
        assert cell.outputs == [] and cell.execution_count is None
    assert "expected_outputs" not in plain.metadata.get("lrcourse", {})


def test_inject_restores_the_expected_text_for_nbval():
    nb = inject(strip(notebook()))
    checked, plain = nb.cells[1], nb.cells[2]
    assert output_text(checked.outputs) == "2\n"
    assert checked.execution_count == 1
    assert plain.outputs == []
    nbformat.validate(nb)


def test_output_text_reads_streams_and_results():
    outs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "True"}, execution_count=1),
    ]
    assert output_text(outs) == "a\nTrue\n"
