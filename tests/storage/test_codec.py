"""The model codec: canonical safetensors out, strict validation in, never pickle."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fedchain.storage import (
    BlobTooLargeError,
    DtypeMismatchError,
    MalformedBlobError,
    MetadataError,
    ModelMetadata,
    NonFiniteError,
    ShapeMismatchError,
    TensorSetMismatchError,
    compute_cid,
    decode_model,
    encode_model,
)

META = ModelMetadata(
    task_id=7,
    round=3,
    author="0x" + "Ab" * 20,
    num_samples=6000,
    model_spec="mnist-cnn",
    model_spec_hash="0x" + "1f" * 32,
    kind="local",
    extra={"dp_epsilon": "2.5"},
)
SPEC = {"conv1.weight": (4, 1, 3, 3), "conv1.bias": (4,), "fc.weight": (10, 16)}


def model(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in SPEC.items()}


def header(blob: bytes) -> dict:
    (n,) = struct.unpack_from("<Q", blob)
    return json.loads(blob[8 : 8 + n])


def assemble(head: dict | bytes, data: bytes) -> bytes:
    raw = head if isinstance(head, bytes) else json.dumps(head).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def test_round_trip_with_spec() -> None:
    tensors = model()
    blob = encode_model(tensors, metadata=META)
    out, meta = decode_model(blob, expected_shapes=SPEC)
    assert meta == META
    assert set(out) == set(SPEC)
    for name in SPEC:
        np.testing.assert_array_equal(out[name], tensors[name])
        assert out[name].dtype == np.float32 and out[name].flags.writeable


def test_blob_is_standard_safetensors() -> None:
    blob = encode_model(model(), metadata=META)
    loaded = safetensors.numpy.load(blob)
    assert set(loaded) == set(SPEC)
    assert header(blob)["__metadata__"] == META.to_dict()
    assert len(blob) % 4 == 0 and struct.unpack_from("<Q", blob)[0] % 8 == 0
    # and safetensors' own files (with FedChain metadata) decode too
    theirs = safetensors.numpy.save(model(1), metadata=META.to_dict())
    out, meta = decode_model(theirs, expected_shapes=SPEC)
    assert meta == META
    np.testing.assert_array_equal(out["fc.weight"], model(1)["fc.weight"])


def test_encoding_is_canonical_across_processes() -> None:
    """safetensors.numpy.save orders metadata randomly per process; encode_model must not."""
    here = str(Path(__file__).parent)
    code = (
        f"import hashlib, sys; sys.path.insert(0, {here!r});"
        "from test_codec import META, model; from fedchain.storage import encode_model;"
        "print(hashlib.sha256(encode_model(model(), metadata=META)).hexdigest())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    runs.add(hashlib.sha256(encode_model(model(), metadata=META)).hexdigest())
    assert len(runs) == 1
    reordered = dict(reversed(list(model().items())))
    assert encode_model(reordered, metadata=META) == encode_model(model(), metadata=META)


def test_metadata_from_plain_mapping_and_validation() -> None:
    blob = encode_model(model(), metadata=META.to_dict())
    assert decode_model(blob)[1] == META
    bad_values = [
        {"kind": "final"},
        {"author": "0x1234"},
        {"task_id": "-1"},
        {"round": "01"},
        {"num_samples": "1e3"},
        {"model_spec_hash": "0x" + "1F" * 32},
        {"format": "other/1"},
    ]
    for change in bad_values:
        with pytest.raises(MetadataError):
            encode_model(model(), metadata={**META.to_dict(), **change})
    missing = META.to_dict()
    del missing["author"]
    with pytest.raises(MetadataError, match="author"):
        encode_model(model(), metadata=missing)
    with pytest.raises(MetadataError, match="reserved"):
        ModelMetadata(**{**META.__dict__, "extra": {"kind": "x"}})


def test_decode_requires_metadata() -> None:
    plain = safetensors.numpy.save(model())
    with pytest.raises(MetadataError, match="lacks"):
        decode_model(plain)


def test_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(BlobTooLargeError):
        decode_model(b"\xff" * 2000, max_bytes=1000)  # garbage, but refused for its size


def test_dtype_shape_and_key_checks_name_the_tensor() -> None:
    tensors = model()
    tensors["fc.weight"] = tensors["fc.weight"].astype(np.float64)
    with pytest.raises(DtypeMismatchError, match=r"fc.weight"):
        decode_model(encode_model(tensors, metadata=META))
    tensors = model()
    tensors["conv1.bias"] = np.zeros(5, np.float32)
    with pytest.raises(ShapeMismatchError, match=r"conv1.bias"):
        decode_model(encode_model(tensors, metadata=META), expected_shapes=SPEC)
    tensors = model()
    tensors["extra"] = np.zeros(1, np.float32)
    del tensors["fc.weight"]
    with pytest.raises(TensorSetMismatchError, match=r"missing \['fc.weight'\].*\['extra'\]"):
        decode_model(encode_model(tensors, metadata=META), expected_shapes=SPEC)
    assert decode_model(encode_model(model(), metadata=META), dtype=None)[1] == META


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(bad: float) -> None:
    tensors = model()
    tensors["conv1.weight"][0, 0, 1, 1] = bad
    with pytest.raises(NonFiniteError, match=r"conv1.weight"):
        encode_model(tensors, metadata=META)
    blob = encode_model(tensors, metadata=META, check_finite=False)  # an attacker can
    with pytest.raises(NonFiniteError, match=r"conv1.weight.*1 NaN"):
        decode_model(blob, expected_shapes=SPEC)


def _valid() -> tuple[dict, bytes]:
    blob = encode_model({"w": np.arange(4, dtype=np.float32)}, metadata=META)
    return header(blob), blob[8 + struct.unpack_from("<Q", blob)[0] :]


@pytest.mark.parametrize(
    "make",
    [
        lambda h, d: b"",
        lambda h, d: b"\x01\x00",
        lambda h, d: struct.pack("<Q", 10**9) + b"{}",  # header longer than the blob
        lambda h, d: assemble(b"{not json", d),
        lambda h, d: assemble(b'{"w": 1, "w": 2}', d),  # duplicate keys
        lambda h, d: assemble(b"[1, 2]", d),
        lambda h, d: assemble(b'{"__metadata__": {"a": 1}}', d),
        lambda h, d: assemble({**h, "w": {**h["w"], "dtype": "BF16"}}, d),
        lambda h, d: assemble({**h, "w": {**h["w"], "shape": [5]}}, d),  # range too short
        lambda h, d: assemble({**h, "w": {**h["w"], "shape": [-4]}}, d),
        lambda h, d: assemble({**h, "w": {**h["w"], "data_offsets": [4, 20]}}, d + b"\0" * 4),
        lambda h, d: assemble(h, d + b"trailing"),
        lambda h, d: assemble({**h, "w": {**h["w"], "pickle": True}}, d),
        lambda h, d: assemble({"__metadata__": h["__metadata__"]}, b""),  # no tensor
        lambda h, d: assemble(b'{"x": NaN}', d),
        lambda h, d: assemble('{"\xff": 1}'.encode("latin-1"), d),
    ],
)
def test_malformed_blobs(make) -> None:
    h, d = _valid()
    with pytest.raises(MalformedBlobError):
        decode_model(make(h, d), dtype=None)


def test_overlapping_tensors_are_malformed() -> None:
    h, d = _valid()
    h["v"] = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    with pytest.raises(MalformedBlobError, match="overlap"):
        decode_model(assemble(h, d), dtype=None)


dtypes = st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.int8, np.uint8])


@settings(max_examples=40, deadline=None)
@given(
    tensors=st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda s: s != "__metadata__"),
        dtypes.flatmap(
            lambda dt: hnp.arrays(
                dt,
                hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                elements={"allow_nan": False, "allow_infinity": False}
                if np.dtype(dt).kind == "f"
                else None,
            )
        ),
        min_size=1,
        max_size=5,
    )
)
def test_random_tensor_dicts_round_trip(tensors: dict[str, np.ndarray]) -> None:
    blob = encode_model(tensors, metadata=META)
    shapes = {k: v.shape for k, v in tensors.items()}
    out, meta = decode_model(blob, expected_shapes=shapes, dtype=None)
    assert meta == META and set(out) == set(tensors)
    for name, array in tensors.items():
        assert out[name].dtype == array.dtype and out[name].shape == array.shape
        np.testing.assert_array_equal(out[name], array)
    assert encode_model(out, metadata=meta) == blob  # canonical: same content, same CID
    assert compute_cid(blob) == compute_cid(encode_model(dict(out), metadata=meta))
