"""The engine file: a TensorRT plan behind a header that says what it is.

Layout: ``ENGINE_MAGIC``, the header length (8 bytes, little-endian), the header (UTF-8 JSON:
file version, the ``EngineCacheKey``, the ``ModelSignature`` metadata, the plan's size and
sha256), then the serialized plan. The header lets a runtime know the model's input size, K, D
and part names without TensorRT, and lets a corrupt, truncated or foreign file be rejected with
a clear error before TensorRT ever sees it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

from reid.engine_key import EngineCacheKey
from reid.errors import UserError
from reid.model_signature import ModelSignature

ENGINE_MAGIC = b"BPSEMA-TENSORRT-ENGINE\x00"
ENGINE_FILE_VERSION = 1
_LENGTH = struct.Struct("<Q")
_MAX_HEADER_BYTES = 1 << 20
REBUILD_HINT = "rebuild it with: python -m reid.export --checkpoint FILE --format engine"


class EngineFileError(UserError):
    """An engine file that cannot be used (missing, foreign, corrupt, or built under another key)."""


@dataclass(frozen=True)
class EngineFile:
    key: EngineCacheKey
    signature: ModelSignature
    plan: bytes


def write_engine_file(path: str | Path, key: EngineCacheKey, signature: ModelSignature, plan: bytes) -> Path:
    """Header + plan, written atomically (temporary file then rename)."""
    path = Path(path)
    header = json.dumps(
        {
            "file_version": ENGINE_FILE_VERSION,
            "key": key.to_dict(),
            "signature": signature.to_metadata(),
            "plan_size": len(plan),
            "plan_sha256": hashlib.sha256(plan).hexdigest(),
        },
        sort_keys=True,
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(ENGINE_MAGIC)
        handle.write(_LENGTH.pack(len(header)))
        handle.write(header)
        handle.write(plan)
    temporary.replace(path)
    return path


def read_engine_file(path: str | Path, expected_key: EngineCacheKey | None = None) -> EngineFile:
    """Read and verify an engine file; every problem is an ``EngineFileError`` naming the file."""

    path = Path(path)
    if not path.is_file():
        raise EngineFileError(f"{path}: engine file not found")
    data = path.read_bytes()
    if not data.startswith(ENGINE_MAGIC):
        raise EngineFileError(
            f"{path}: not an engine file written by reid.export (a foreign or raw TensorRT plan); {REBUILD_HINT}"
        )
    offset = len(ENGINE_MAGIC)
    if len(data) < offset + _LENGTH.size:
        raise EngineFileError(f"{path}: corrupt engine file (truncated header); {REBUILD_HINT}")
    (header_size,) = _LENGTH.unpack_from(data, offset)
    offset += _LENGTH.size
    if header_size > _MAX_HEADER_BYTES or len(data) < offset + header_size:
        raise EngineFileError(f"{path}: corrupt engine file (truncated header); {REBUILD_HINT}")
    try:
        header = json.loads(data[offset : offset + header_size].decode())
        if header.get("file_version") != ENGINE_FILE_VERSION:
            raise ValueError(f"file version {header.get('file_version')!r}, expected {ENGINE_FILE_VERSION}")
        key = EngineCacheKey.from_dict(header["key"])
        signature = ModelSignature.from_metadata(header["signature"], source=str(path))
        plan_size, plan_sha256 = int(header["plan_size"]), str(header["plan_sha256"])
    except UserError as error:
        raise EngineFileError(f"{path}: corrupt engine file header ({error}); {REBUILD_HINT}") from error
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise EngineFileError(f"{path}: corrupt engine file (unreadable header: {error}); {REBUILD_HINT}") from error
    plan = data[offset + header_size :]
    if len(plan) != plan_size:
        raise EngineFileError(
            f"{path}: corrupt engine file (plan is {len(plan)} bytes, header says {plan_size}); {REBUILD_HINT}"
        )
    if hashlib.sha256(plan).hexdigest() != plan_sha256:
        raise EngineFileError(f"{path}: corrupt engine file (plan checksum mismatch); {REBUILD_HINT}")
    if expected_key is not None and key != expected_key:
        differing = ", ".join(key.differences(expected_key))
        raise EngineFileError(f"{path}: engine built under another cache key (differs in: {differing})")
    return EngineFile(key=key, signature=signature, plan=plan)
