"""Serving the export: signatures read by `saved_model_cli`, the REST format, text ops."""

import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from s2s_keras import serving
from s2s_keras.bundle import TrainedModel
from s2s_keras.export import export_saved_model, load_translator

BASELINE = Path(__file__).parent / "fixtures" / "baseline"


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """The two baseline models (word and WordPiece tokenizers) exported by today's code."""
    out = {}
    for name in ("bahdanau", "transformer"):
        trained = TrainedModel.load(BASELINE / f"{name}_model")
        out[name] = export_saved_model(
            trained, tmp_path_factory.mktemp(name) / "export", beam_size=2
        )
    return out


@functools.cache
def saved_model_cli_signatures(path) -> dict:
    """`{signature: {"inputs": {name: (dtype, shape)}, "outputs": {...}, "method": ...}}`."""
    cli = shutil.which("saved_model_cli", path=str(Path(sys.executable).parent))
    assert cli, "saved_model_cli ships with TensorFlow: it should be beside this Python"
    text = subprocess.run(
        [cli, "show", "--dir", str(path), "--all"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    signatures = {}
    for block in re.split(r"\nsignature_def\['", text)[1:]:
        name = block.split("'", 1)[0]
        tensors = {"inputs": {}, "outputs": {}}
        for kind, tensor, dtype, shape in re.findall(
            r"(inputs|outputs)\['([^']+)'\] tensor_info:\s+dtype: (\w+)\s+shape: ([^\n]+)", block
        ):
            tensors[kind][tensor] = (dtype, shape.strip())
        method = re.search(r"Method name is: ([^\n]*)", block).group(1).strip()
        signatures[name] = {**tensors, "method": method}
    return signatures


@pytest.mark.parametrize("name", ["bahdanau", "transformer"])
def test_saved_model_cli_reads_the_serving_signature(exports, name):
    signatures = saved_model_cli_signatures(exports[name])
    assert signatures["serving_default"] == {
        "inputs": {"text": ("DT_STRING", "(-1)")},
        "outputs": {"translation": ("DT_STRING", "(-1)")},
        "method": "tensorflow/serving/predict",
    }


def test_a_rest_request_and_its_response_in_the_row_format(exports):
    loaded = load_translator(exports["bahdanau"])
    sentences = ["the red cat sleeps", ""]
    request = serving.rest_request(sentences)
    assert request == {"signature_name": "serving_default", "instances": sentences}
    response = serving.rest_response(loaded, request)
    expected = [t.decode() for t in loaded.translate(sentences).numpy()]
    assert response == {"predictions": expected}
    assert response["predictions"][1] == ""


def test_a_request_with_named_inputs_has_one_object_per_instance():
    request = serving.rest_request(["a", "b"], signature="translate_to", target_lang=["fr", "es"])
    assert request == {
        "signature_name": "translate_to",
        "instances": [{"text": "a", "target_lang": "fr"}, {"text": "b", "target_lang": "es"}],
    }
    with pytest.raises(ValueError, match="target_lang has 1 values for 2 sentences"):
        serving.rest_request(["a", "b"], target_lang=["fr"])


def test_the_text_ops_of_each_tokenizer_kind(exports):
    assert serving.text_ops(exports["bahdanau"]) == ["NormalizeUTF8"]
    assert serving.text_ops(exports["transformer"]) == [
        "NormalizeUTF8",
        "WordpieceTokenizeWithOffsets",
    ]


@pytest.mark.parametrize(("name", "heads"), [("bahdanau", "1"), ("transformer", "-1")])
def test_saved_model_cli_reads_the_attention_signature(exports, name, heads):
    signatures = saved_model_cli_signatures(exports[name])
    assert signatures["translate_with_attention"] == {
        "inputs": {"text": ("DT_STRING", "(-1)")},
        "outputs": {
            # [B, layers, N, T, S]: one layer of the baseline Transformer, its heads a
            # graph-time unknown (the empty-batch branch has one).
            "attention": ("DT_FLOAT", f"(-1, 1, {heads}, -1, -1)"),
            "output_tokens": ("DT_STRING", "(-1, -1)"),
            "source_tokens": ("DT_STRING", "(-1, -1)"),
            "translation": ("DT_STRING", "(-1)"),
        },
        "method": "tensorflow/serving/predict",
    }
