"""IDX reader/writer: round trips, exact header bytes, and every malformed-file error."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.data.errors import IdxError
from pipeline.data.idx import decode_idx, encode_idx, read_idx, write_idx


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
def test_round_trip_every_dtype(dtype: str) -> None:
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    b = decode_idx(encode_idx(a), "mem")
    assert b.dtype == np.dtype(dtype).newbyteorder("=") and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_labels_header_is_the_official_magic_2049() -> None:
    data = encode_idx(np.array([7, 2, 1], dtype=np.uint8))
    assert data == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])
    assert int.from_bytes(data[:4], "big") == 2049


def test_images_header_is_magic_2051_big_endian_dims() -> None:
    data = encode_idx(np.zeros((2, 28, 28), dtype=np.uint8))
    assert int.from_bytes(data[:4], "big") == 2051
    assert data[4:16] == (2).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big")


def test_multibyte_data_is_big_endian() -> None:
    assert encode_idx(np.array([1], dtype=np.int32))[-4:] == b"\x00\x00\x00\x01"


def test_write_and_read_file(tmp_path) -> None:
    a = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "x-idx1-ubyte", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "x-idx1-ubyte", dtype=np.uint8, shape=(None,)), a)
    assert [p.name for p in tmp_path.iterdir()] == ["x-idx1-ubyte"]


def test_refuses_unsupported_dtype() -> None:
    with pytest.raises(IdxError, match="cannot write dtype"):
        encode_idx(np.zeros(3, dtype=np.uint16))


@pytest.mark.parametrize("header", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00"])
def test_wrong_magic_number(tmp_path, header: bytes) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(header + b"\x00\x00\x00\x01\x05")
    with pytest.raises(IdxError, match="magic number") as exc:
        read_idx(path)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("delta", [-1, 1])
def test_header_count_disagrees_with_length(tmp_path, delta: int) -> None:
    data = encode_idx(np.zeros((3, 28, 28), dtype=np.uint8))
    path = tmp_path / "images"
    path.write_bytes(data[:delta] if delta < 0 else data + b"\x00")
    with pytest.raises(IdxError, match="needs exactly 2368") as exc:
        read_idx(path)
    assert str(path) in str(exc.value)


def test_file_ending_inside_header(tmp_path) -> None:
    path = tmp_path / "f"
    path.write_bytes(encode_idx(np.zeros((3, 28, 28), dtype=np.uint8))[:10])
    with pytest.raises(IdxError, match="inside the header"):
        read_idx(path)


def test_too_short(tmp_path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"\x00\x00")
    with pytest.raises(IdxError, match="too short"):
        read_idx(path)


def test_expected_dtype_and_shape_are_enforced() -> None:
    data = encode_idx(np.zeros((3, 28, 28), dtype=np.uint8))
    with pytest.raises(IdxError, match="expected int32"):
        decode_idx(data, "f", dtype=np.int32)
    with pytest.raises(IdxError, match=r"expected \(any,\)"):
        decode_idx(data, "f", shape=(None,))
    with pytest.raises(IdxError, match=r"expected \(any, 27, 28\)"):
        decode_idx(data, "f", shape=(None, 27, 28))
    assert decode_idx(data, "f", dtype=np.uint8, shape=(3, 28, None)).shape == (3, 28, 28)


def test_missing_file_is_named(tmp_path) -> None:
    with pytest.raises(IdxError, match="no such file") as exc:
        read_idx(tmp_path / "nope")
    assert "nope" in str(exc.value)
