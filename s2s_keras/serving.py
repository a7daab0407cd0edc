"""Serving an exported SavedModel: TensorFlow Serving's REST format and the ops it needs.

Introduced in notebook 07 and the README's *Serving* section. TensorFlow Serving's model
server answers `POST /v1/models/NAME:predict` with a JSON body; for the string-in,
string-out signatures of `s2s_keras.export` a request is one sentence per instance:

    {"signature_name": "serving_default", "instances": ["El gato duerme."]}
    → {"predictions": ["The cat sleeps."]}

`rest_response` builds that answer from an in-process call of the signature, the way the
server lays it out (the "row" format: one prediction per instance; a signature with
several outputs gives one object per instance). `text_ops` lists the tensorflow-text ops
the exported graph uses, which a model server must have linked to load it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def rest_request(texts, *, signature: str = "serving_default", **inputs) -> dict:
    """A predict request in the row format: `{"signature_name", "instances"}`.

    Args:
        texts: the sentences, one instance each.
        signature: the signature to call. Defaults to `"serving_default"`.
        **inputs: further inputs of that signature, one value per sentence (e.g. a target
            language); with any, each instance is an object of named inputs.
    """
    texts = list(texts)
    if not inputs:
        return {"signature_name": signature, "instances": texts}
    for name, values in inputs.items():
        if len(values) != len(texts):
            raise ValueError(f"{name} has {len(values)} values for {len(texts)} sentences")
    instances = [
        {"text": t, **{name: values[i] for name, values in inputs.items()}}
        for i, t in enumerate(texts)
    ]
    return {"signature_name": signature, "instances": instances}


def _json_value(value):
    """A tensor row as the model server writes it: strings decoded, arrays as lists."""
    value = np.asarray(value)
    if value.dtype.kind in "SO":
        decoded = np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(value)
        return decoded.tolist()
    return value.tolist()


def rest_response(loaded, request: dict) -> dict:
    """The model server's answer to `request`, computed by calling the signature here.

    Args:
        loaded: the object `tf.saved_model.load` returned.
        request: a row-format request (`rest_request`).

    Returns:
        `{"predictions": [...]}`: per instance, the value of the signature's only output,
        or an object of all its outputs.
    """
    import tensorflow as tf

    signature = loaded.signatures[request.get("signature_name", "serving_default")]
    instances = request["instances"]
    if instances and isinstance(instances[0], dict):
        names = list(instances[0])
        feeds = {n: tf.constant([inst[n] for inst in instances]) for n in names}
    else:
        [name] = signature.structured_input_signature[1]
        feeds = {name: tf.constant(instances)}
    outputs = {k: _json_value(v) for k, v in signature(**feeds).items()}
    if len(outputs) == 1:
        [values] = outputs.values()
        return {"predictions": values}
    count = len(instances)
    return {"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(count)]}


def graph_ops(path: str | os.PathLike) -> list[str]:
    """Every op type in a SavedModel's graphs and their functions, sorted."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    ops = set()
    for graph in saved.meta_graphs:
        ops.update(node.op for node in graph.graph_def.node)
        for function in graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return sorted(ops)


def text_ops(path: str | os.PathLike) -> list[str]:
    """The ops of a SavedModel that TensorFlow alone does not register: tensorflow-text's.

    Asked of a fresh Python process that imports TensorFlow and not tensorflow-text (in
    this one, tensorflow-text may have registered its ops already).
    """
    code = (
        "import json, sys\n"
        "import tensorflow\n"
        "from tensorflow.python.framework import op_def_registry\n"
        "names = json.load(sys.stdin)\n"
        "print(json.dumps([n for n in names if op_def_registry.get(n) is None]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(graph_ops(path)),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
