"""A moto S3 server for tests and benchmarks (``pip install 'rovercam[s3]'``: moto, boto3, s3fs).

The optional packages are imported when the server starts, so importing this module needs none.
"""
from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

__all__ = ["moto_s3"]


@contextlib.contextmanager
def moto_s3(bucket: str = "rovercam") -> Iterator[dict[str, Any]]:
    """A moto S3 server on a free 127.0.0.1 port with one empty bucket, for tests and benchmarks.

    Yields
    ------
    dict
        ``{"root": "s3://<bucket>", "storage_options": {...}, "endpoint_url": ...}``; pass
        ``root`` and ``storage_options`` to :class:`rovercam.storage.Store`.

    Raises
    ------
    ImportError
        moto, boto3 or s3fs is not installed (``pip install 'rovercam[s3]'``).
    """
    import boto3
    import s3fs  # noqa: F401 - fail here, not at the first Store, when it is missing
    from moto.server import ThreadedMotoServer

    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        creds = {"aws_access_key_id": "rovercam-test", "aws_secret_access_key": "rovercam-test"}
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **creds).create_bucket(
            Bucket=bucket)
        options = {"endpoint_url": endpoint, "key": creds["aws_access_key_id"],
                   "secret": creds["aws_secret_access_key"],
                   "client_kwargs": {"region_name": "us-east-1"}}
        yield {"root": f"s3://{bucket}", "storage_options": options, "endpoint_url": endpoint}
    finally:
        server.stop()
        werkzeug_log.setLevel(level)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
