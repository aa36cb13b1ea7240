"""Audit a store and catalog for anything partial or inconsistent that a reader could see."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from rovercam.catalog.db import Catalog
from rovercam.errors import StorageError
from rovercam.provenance import sha256_bytes
from rovercam.storage.store import Store

__all__ = ["audit_published"]


def audit_published(
    store: Store,
    catalog: Catalog | None = None,
    *,
    uncommitted: Literal["ignore", "check"] = "ignore",
) -> list[str]:
    """Every way a partial or inconsistent product is visible in storage or catalog.

    Checks, for every published prefix of ``store``:

    - ``LATEST`` names a committed version, and its checksums are that version's;
    - every committed version (its version record) has all its files, with those sha256s;
    - a STAC item in a version names that version in its id, and each asset's checksum
      (``file:checksum``, a sha2-256 multihash; ``rovercam:sha256`` in items published before
      the file extension was used) matches the file it points to;

    and for every output row of ``catalog``: its version is committed in ``store``, its storage
    keys are the files of that version, and its checksums match the stored bytes.

    Parameters
    ----------
    store : Store
    catalog : Catalog, optional
    uncommitted : {"ignore", "check"}
        ``"check"`` also requires version folders *without* a commit record to be complete
        (true on local disk, where a version folder appears by one rename; on object stores a
        killed publisher may leave a partial folder that no reader is pointed to).

    Returns
    -------
    list of str
        One line per problem; empty when everything visible is complete.
    """
    problems: list[str] = []
    committed_by_prefix = {}
    for prefix in store.published_prefixes():
        committed = store.committed_versions(prefix)
        committed_by_prefix[prefix] = committed
        try:
            latest = store.latest(prefix)
        except StorageError as e:
            problems.append(f"{prefix}: {e}")
            latest = None
        if latest is not None and committed.get(latest.version) != latest.sha256:
            problems.append(f"{prefix}: LATEST names v{latest.version}, which is not committed with those files")
        folders = set(store.versions(prefix))
        for version in sorted(folders | set(committed)):
            files = committed.get(version)
            if files is None:
                if uncommitted == "check" and store.list(f"{prefix}/v{version}"):
                    problems.extend(_check_version_folder(store, prefix, version, None))
                continue
            problems.extend(_check_version_folder(store, prefix, version, files))
    if catalog is not None:
        for out in catalog.outputs():
            prefix = out.storage_keys and next(iter(out.storage_keys.values())).rsplit("/", 2)[0]
            committed = committed_by_prefix.get(prefix or "", {})
            if out.version not in committed:
                problems.append(f"catalog {out.output_id}: v{out.version} is not committed in {store!r}")
                continue
            for name, key in out.storage_keys.items():
                if not key.endswith(f"/v{out.version}/{name}"):
                    problems.append(f"catalog {out.output_id}: {key} is not {name} of v{out.version}")
                elif not store.exists(key):
                    problems.append(f"catalog {out.output_id}: {key} is missing")
                elif out.checksums and out.checksums.get(name) != committed[out.version].get(name):
                    problems.append(f"catalog {out.output_id}: checksum of {name} differs from storage")
    return problems


def _asset_sha256(asset: dict) -> str | None:
    """The sha256 hex digest an asset records: ``file:checksum`` without its multihash prefix
    ``1220`` (sha2-256, 32 bytes), else the older ``rovercam:sha256``."""
    checksum = asset.get("file:checksum")
    if isinstance(checksum, str) and checksum.startswith("1220"):
        return checksum[4:]
    return asset.get("rovercam:sha256")


def _check_version_folder(store: Store, prefix: str, version: int, files: dict[str, str] | None) -> list[str]:
    """Problems of one version folder; ``files`` = its commit record (None: judge by its STAC item)."""
    vprefix = f"{prefix}/v{version}"
    present = {k[len(vprefix) + 1:] for k in store.list(vprefix)}
    actual = {name: sha256_bytes(store.read_bytes(f"{vprefix}/{name}")) for name in present}
    problems = []
    if files is not None:
        if actual != files:
            problems.append(f"{vprefix}: files {sorted(actual)} do not match the commit record {sorted(files)}")
    items = [n for n in present if n.endswith(".stac.json")]
    if files is None and not items:
        problems.append(f"{vprefix}: uncommitted folder without a STAC item to check it against")
    for name in items:
        try:
            item = json.loads(store.read_bytes(f"{vprefix}/{name}"))
            item_version = item["id"].rsplit("-v", 1)[1]
            assets = item["assets"]
        except (ValueError, KeyError, IndexError) as e:
            problems.append(f"{vprefix}/{name}: unreadable STAC item ({e})")
            continue
        if item_version != str(version):
            problems.append(f"{vprefix}/{name}: item id {item['id']} names another version")
        expected = {Path(a["href"]).name: _asset_sha256(a) for a in assets.values()}
        if set(expected) | {name} != present:
            problems.append(f"{vprefix}: files {sorted(present)} != item assets {sorted(expected)} + item")
        for fname, digest in expected.items():
            if fname in actual and digest != actual[fname]:
                problems.append(f"{vprefix}/{fname}: sha256 differs from the STAC item's")
    return problems
