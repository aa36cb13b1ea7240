"""An HTTP archive laid out like a PDS volume, served by a real http.server on 127.0.0.1.

Truth: the generator's products (byte-identical copies, read back with read_product), the
server's request counts, and the HTTP behaviour the server is told to show.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rovercam.errors import ProductError
from rovercam.ingest import discover
from rovercam.products import read_product
from rovercam.products.pds3 import write_pds3
from rovercam.sources import HttpVolumeSource, RemoteFile, RemoteProduct, open_source
from rovercam.sources.volume import listing_links


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def volume(http_server, tiny_sol):
    """``<www>/vol/`` with DATA/SOL00099 (1 product), DATA/SOL00100 (4 attached-label products,
    a detached LBL+IMG pair under detached/, a browse JPEG), INDEX/ and DOCUMENT/."""
    raw = sorted((tiny_sol / "raw").glob("*.IMG"))
    vol = http_server.root / "vol"
    sol100 = vol / "DATA" / "SOL00100"
    sol100.mkdir(parents=True)
    originals = {}
    for p in raw[:4]:
        originals[f"{p.name}"] = Path(shutil.copy2(p, sol100 / p.name))
    detached = read_product(raw[5])
    (sol100 / "detached").mkdir()
    lbl = write_pds3(sol100 / "detached" / f"{detached.product_id}.LBL", detached,
                     embed_vicar=True, detached=True)
    originals[f"detached/{lbl.name}"] = lbl
    (sol100 / "BROWSE_0001.JPG").write_bytes(b"\xff\xd8 not a product")
    (vol / "DATA" / "SOL00099").mkdir()
    shutil.copy2(raw[6], vol / "DATA" / "SOL00099" / raw[6].name)
    for folder, name in (("INDEX", "INDEX.TAB"), ("DOCUMENT", "VOLINFO.TXT")):
        (vol / folder).mkdir()
        (vol / folder / name).write_text("x\n")
    return http_server, f"{http_server.base_url}/vol/", originals, raw


def test_volume_url_opens_a_volume_source(http_server):
    assert isinstance(open_source(f"{http_server.base_url}/vol/"), HttpVolumeSource)


def test_listing_sols_and_products(volume):
    _, url, originals, _ = volume
    src = open_source(url)
    assert src.sols() == [99, 100]
    assert src.latest_sols(1) == [100]
    products = src.list(100)
    assert sorted(p.primary for p in products) == sorted(originals)
    pair = next(p for p in products if p.primary.startswith("detached/"))
    stem = pair.name[:-4]
    # label and data travel together, data first
    assert [f.path for f in pair.files] == [f"detached/{stem}.IMG", f"detached/{stem}.LBL"]
    assert src.list(7) == []


def test_fetch_reads_back_identical_and_mirrors_discover(volume, tmp_path):
    _, url, originals, _ = volume
    src = open_source(url)
    dest = tmp_path / "incoming" / "sol00100"
    result = src.fetch(src.list(100), dest)
    assert result.ok and len(result.new) == len(originals)
    assert {p.state for p in result.products} == {"fetched"}
    for rel, original in originals.items():
        assert _sha(dest / rel) == _sha(original)
        try:
            want = read_product(original)
        except ProductError:  # the generator's deliberately bad product stays bad
            with pytest.raises(ProductError):
                read_product(dest / rel)
            continue
        got = read_product(dest / rel)
        assert got.product_id == want.product_id
        np.testing.assert_array_equal(got.image, want.image)
    pair_data = dest / "detached" / (Path(next(r for r in originals if "/" in r)).stem + ".IMG")
    assert _sha(pair_data) == _sha(Path(originals[next(r for r in originals if "/" in r)])
                                   .with_suffix(".IMG"))
    # what ingest will discover is exactly the fetched entries (no .part or manifest files)
    assert [str(p) for p in discover(dest)] == sorted(result.new_paths)
    assert not list(dest.rglob("*.part"))


def _file_gets(state) -> int:
    return sum(n for (method, path), n in state.requests.items()
               if method == "GET" and not path.endswith("/"))


def test_refetch_transfers_nothing_and_a_new_product_exactly(volume, tmp_path):
    state, url, originals, raw = volume
    src = open_source(url)
    dest = tmp_path / "dest"
    src.fetch(src.list(100), dest)
    gets = _file_gets(state)
    assert gets == len(originals) + 1  # the detached pair is two files
    again = src.fetch(src.list(100), dest)
    assert again.ok and again.new == () and len(again.unchanged) == len(originals)
    assert _file_gets(state) == gets  # HEADs only: Last-Modified and size unchanged
    shutil.copy2(raw[7], state.root / "vol" / "DATA" / "SOL00100" / raw[7].name)
    third = src.fetch(src.list(100), dest)
    assert [(p.name, p.state) for p in third.new] == [(raw[7].name, "fetched")]
    assert _file_gets(state) == gets + 1


def test_a_changed_product_is_fetched_again_as_updated(volume, tmp_path):
    state, url, originals, _ = volume
    src = open_source(url)
    dest = tmp_path / "dest"
    src.fetch(src.list(100), dest)
    name = next(r for r in originals if "/" not in r)
    remote = state.root / "vol" / "DATA" / "SOL00100" / name
    data = bytearray(remote.read_bytes())
    data[-1] ^= 0xFF  # same size, new content
    remote.write_bytes(bytes(data))
    st = remote.stat()
    os.utime(remote, (st.st_atime, st.st_mtime + 10))  # Last-Modified has 1 s resolution
    result = src.fetch(src.list(100), dest)
    assert [(p.name, p.state) for p in result.new] == [(name, "updated")]
    assert (dest / name).read_bytes() == bytes(data)


def test_503_then_200_is_retried(volume, tmp_path):
    state, url, originals, _ = volume
    name = next(r for r in originals if "/" not in r)
    path = f"/vol/DATA/SOL00100/{name}"
    state.fail_first[path] = 2
    state.fail_first["/vol/DATA/"] = 1  # a listing too
    src = open_source(url, backoff_s=0.01, retries=3)
    result = src.fetch(src.list(100), tmp_path / "dest")
    assert result.ok
    assert state.gets(path) == 3  # 503, 503, 200
    assert _sha(tmp_path / "dest" / name) == _sha(originals[name])


def test_503_beyond_the_retries_fails_that_product_only(volume, tmp_path):
    state, url, originals, _ = volume
    name = next(r for r in originals if "/" not in r)
    path = f"/vol/DATA/SOL00100/{name}"
    state.fail_first[path] = 10
    src = open_source(url, backoff_s=0.0, retries=2)
    result = src.fetch(src.list(100), tmp_path / "dest")
    assert [f.name for f in result.failed] == [name]
    assert "503" in result.failed[0].reason and path in result.failed[0].reason
    assert "3 attempts" in result.failed[0].reason
    assert len(result.products) == len(originals) - 1
    assert not (tmp_path / "dest" / name).exists()


def test_truncated_download_is_detected_and_nothing_is_left(volume, tmp_path):
    state, url, originals, _ = volume
    pair = next(r for r in originals if "/" in r)
    data_path = "/vol/DATA/SOL00100/" + pair[:-4] + ".IMG"
    state.truncate.add(data_path)
    src = open_source(url, backoff_s=0.0, retries=1)
    result = src.fetch(src.list(100), tmp_path / "dest")
    assert [f.name for f in result.failed] == [Path(pair).name]
    assert "truncated" in result.failed[0].reason
    assert state.gets(data_path) == 2  # retried once
    # neither the data file nor its label was renamed into place; no temporary file is left
    assert not (tmp_path / "dest" / "detached").exists() or \
        not [p for p in (tmp_path / "dest" / "detached").iterdir()]
    assert len(result.products) == len(originals) - 1


def test_404_is_not_retried(volume, tmp_path):
    state, url, originals, _ = volume
    src = open_source(url, backoff_s=0.0)
    products = src.list(100)
    name = products[0].files[0].path
    (state.root / "vol" / "DATA" / "SOL00100" / name).unlink()
    result = src.fetch(products[:1], tmp_path / "dest")
    assert "HTTP 404" in result.failed[0].reason
    assert state.gets(f"/vol/DATA/SOL00100/{name}") == 1


def test_traversal_names_in_a_listing_are_refused(http_server, tmp_path):
    folder = http_server.root / "vol" / "sol00100"
    folder.mkdir(parents=True)
    good = "NLM_0100_0675824857_443ECM_N0031152NCAM00530_01_2LUJ01.IMG"
    (folder / good).write_bytes(b"x" * 100)
    page = (f'<html><body><a href="../">Parent Directory</a><a href="?C=N;O=D">Name</a>'
            f'<a href="{good}">{good}</a><a href="..%2F..%2Fevil.IMG">evil</a>'
            f'<a href="/etc/passwd">abs</a><a href="http://elsewhere.invalid/x.IMG">x</a>'
            f'</body></html>').encode()
    http_server.pages["/vol/sol00100/"] = (page, "text/html")
    src = open_source(f"{http_server.base_url}/vol")
    products = src.list(100)
    assert sorted(p.name for p in products) == ["../../evil.IMG", good]
    dest = tmp_path / "a" / "b" / "dest"
    result = src.fetch(products, dest)
    assert [p.name for p in result.products] == [good]
    assert len(result.refused) == 1 and "'..'" in result.refused[0].reason
    assert sorted(p.name for p in (tmp_path / "a").rglob("*") if p.is_file()) == \
        [".rovercam-fetch.json", good]
    assert not [p for p in tmp_path.rglob("*evil*")]


@pytest.mark.parametrize("path", ["/abs.IMG", "C:evil.IMG", "a\\..\\b.IMG", "a/../b.IMG",
                                  "", ".hidden.IMG", "a//b.IMG", "nul\x00.IMG"])
def test_unsafe_product_paths_are_refused(tmp_path, path):
    src = open_source(str(tmp_path / "nowhere"))
    product = RemoteProduct(name=path or "x", sol=1, files=(RemoteFile(path=path, url="x"),),
                            primary=path)
    result = src.fetch([product], tmp_path / "dest")
    assert result.products == () and len(result.refused) == 1


def test_a_symlink_out_of_the_staging_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "raw").symlink_to(outside)
    src_dir = tmp_path / "src" / "sol00001" / "raw"
    src_dir.mkdir(parents=True)
    (src_dir / "X.IMG").write_bytes(b"y" * 10)
    src = open_source(str(tmp_path / "src"))
    result = src.fetch(src.list(1), dest)
    assert len(result.refused) == 1 and "outside" in result.refused[0].reason
    assert list(outside.iterdir()) == []


APACHE_PAGE = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /vol/DATA</title></head><body><h1>Index of /vol/DATA</h1>
<table><tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th></tr>
<tr><td><a href="/vol/">Parent Directory</a></td></tr>
<tr><td><a href="SOL00100/">SOL00100/</a></td><td>2023-01-08 20:55</td><td>-</td></tr>
<tr><td><a href="SOL00101/">SOL00101/</a></td></tr>
<tr><td><a href="NOTE%20ONE.TXT">NOTE ONE.TXT</a></td><td>1.2K</td></tr>
<tr><td><a href="http://127.0.0.1:1/vol/DATA/SOL00102/">other port</a></td></tr>
<tr><td><a href="SOL00100/#top">dup</a></td></tr>
</table></body></html>"""


def test_apache_listing_links():
    # truth: Apache mod_autoindex output shape (parent link, sort links, trailing / on folders)
    links = listing_links(APACHE_PAGE, "http://127.0.0.1:8000/vol/DATA/")
    assert links == [("SOL00100", "http://127.0.0.1:8000/vol/DATA/SOL00100/", True),
                     ("SOL00101", "http://127.0.0.1:8000/vol/DATA/SOL00101/", True),
                     ("NOTE ONE.TXT", "http://127.0.0.1:8000/vol/DATA/NOTE%20ONE.TXT", False)]
