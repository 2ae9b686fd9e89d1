"""The notebooks run from top to bottom (in their quick mode) and are kept in git without outputs."""

from pathlib import Path

import nbformat
import numpy as np
import onnxruntime
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("KPBOTTLENECK_QUICK", "1")
    monkeypatch.chdir(tmp_path)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3, "predictions, appearance transfer and keypoint editing each show a picture"
    text = "".join(o.get("text", "") for o in outputs)
    assert "left wrist moved from" in text
    # the exported detector the notebook printed is a working ONNX model: images in, (B, 17, 2) out
    onnx_path = next(Path(word) for word in text.split() if word.endswith("detector.onnx"))
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (keypoints,) = session.run(None, {session.get_inputs()[0].name: np.zeros((2, 3, 64, 64), np.float32)})
    assert keypoints.shape == (2, 17, 2) and np.abs(keypoints).max() <= 1
