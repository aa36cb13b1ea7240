"""The frame blob: exact round trips, refusal of anything else."""
from __future__ import annotations

import numpy as np
import pytest

from rovercam.storage import arrayblob


@pytest.mark.parametrize("dtype", ["float32", "uint16", ">i2", "float64"])
@pytest.mark.parametrize("shape", [(5, 7), (4, 3, 3), (0, 3)])
def test_round_trip_is_exact(dtype, shape):
    rng = np.random.default_rng(1)
    image = (rng.random(shape) * 1000).astype(dtype)
    meta = {"product_id": "P", "nested": {"q": [1.0, 2.5]}, "none": None}
    back, m = arrayblob.unpack(arrayblob.pack(image, meta))
    assert back.dtype == image.dtype and back.shape == image.shape
    np.testing.assert_array_equal(back, image)
    assert m == meta


def test_pieces_are_the_blob_unjoined_and_share_the_pixels():
    image = np.arange(60, dtype=np.float32).reshape(4, 5, 3)
    head, pixels = arrayblob.pack_pieces(image, {"a": 1})
    assert head + bytes(pixels) == arrayblob.pack(image, {"a": 1})
    assert np.shares_memory(np.frombuffer(pixels, dtype=np.float32), image)  # no copy


def test_non_contiguous_input_is_packed_in_c_order():
    image = np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2]
    back, _ = arrayblob.unpack(arrayblob.pack(image, {}))
    np.testing.assert_array_equal(back, image)


def test_foreign_and_truncated_blobs_are_refused():
    blob = arrayblob.pack(np.ones((4, 4), np.float32), {"a": 1})
    with pytest.raises(ValueError, match="bad magic"):
        arrayblob.unpack(b"PK\x03\x04" + blob[4:])
    with pytest.raises(ValueError, match="truncated"):
        arrayblob.unpack(blob[:-3])
    with pytest.raises(ValueError, match="object"):
        arrayblob.pack(np.array([object()]), {})


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 1), (6, 5, 3)])
def test_peek_reads_shape_dtype_and_meta_from_the_head_only(shape):
    import io

    image = np.zeros(shape, np.float32)
    blob = arrayblob.pack(image, {"units": "radiance_camera"})
    stream = io.BytesIO(blob)
    got_shape, dtype, meta = arrayblob.peek(stream)
    assert (got_shape, dtype, meta) == (shape, np.dtype(np.float32), {"units": "radiance_camera"})
    assert stream.tell() < len(blob) - image.nbytes + 256  # the pixels were not read
    with pytest.raises(ValueError, match="magic"):
        arrayblob.peek(io.BytesIO(b"not a blob at all"))


def test_npy_headers_are_parsed_one_thread_at_a_time(monkeypatch):
    # numpy parses headers with ast.literal_eval, which CPython 3.11 cannot run in several threads
    # at once (python/cpython#106905); unpack and peek hold one lock around it
    import io as _io

    import numpy as _np

    from rovercam.storage import arrayblob

    seen = []
    real = _np.lib.format.read_array_header_1_0

    def spy(stream):
        seen.append(arrayblob._HEADER_LOCK.locked())
        return real(stream)

    monkeypatch.setattr(_np.lib.format, "read_array_header_1_0", spy)
    blob = arrayblob.pack(_np.arange(6, dtype=_np.float32).reshape(2, 3), {"k": 1})
    arrayblob.unpack(blob)
    arrayblob.peek(_io.BytesIO(blob))
    assert seen == [True, True]
