"""Encryption at rest: AES-256-GCM under the cluster's master key.

The master key is 32 random bytes in ``<pki-dir>/master.key`` (mode 0600) on each control
plane replica; etcd only ever holds what it sealed (the CA's key, secrets, access keys).
Every sealed value is bound to the etcd key it is stored under (as associated data), so a
sealed value copied to another key does not open.

Format: ``b"shl1" + 12-byte nonce + ciphertext-and-tag``.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"shl1"
MASTER_KEY_FILE = "master.key"


class SealError(Exception):
    """A sealed value cannot be opened: wrong master key, or tampered with."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("master key: want 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return MAGIC + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def unseal(self, sealed: bytes, context: str) -> bytes:
        if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + 12 + 16:
            raise SealError(f"{context}: not a sealed value")
        nonce = sealed[len(MAGIC):len(MAGIC) + 12]
        try:
            return self._aead.decrypt(nonce, sealed[len(MAGIC) + 12:], context.encode())
        except InvalidTag:
            raise SealError(f"{context}: cannot decrypt: the master key differs from the one that sealed it, "
                            "or the value was tampered with") from None


def write_private(path: Path, data: bytes) -> None:
    """Writes a file only its owner may read, atomically (never a moment at a wider mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_master_key(pki_dir: Path) -> bytes | None:
    """The master key in ``pki_dir``, or None when there is none yet. Refuses a key file
    that others can read."""
    path = Path(pki_dir) / MASTER_KEY_FILE
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & 0o077:
        raise SealError(f"{path}: mode {mode & 0o777:o} lets others read the master key; chmod 600 it")
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except (ValueError, OSError) as exc:
        raise SealError(f"{path}: not a base64 master key: {exc}") from None
    if len(key) != 32:
        raise SealError(f"{path}: the master key must be 32 bytes, got {len(key)}")
    return key


def create_master_key(pki_dir: Path) -> bytes:
    """A new master key, unless another process made one first (then that one)."""
    path = Path(pki_dir) / MASTER_KEY_FILE
    key = secrets.token_bytes(32)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    write_private(tmp, base64.b64encode(key) + b"\n")
    try:
        # link, not replace: exactly one of several replicas starting at once creates it.
        os.link(tmp, path)
    except FileExistsError:
        existing = load_master_key(Path(pki_dir))
        assert existing is not None
        return existing
    finally:
        tmp.unlink(missing_ok=True)
    return key


# The process's sealer, set once at start-up by the control plane: code far from start-up
# (access keys) seals with it without every caller passing it down.
_installed: Sealer | None = None


def install(sealer: Sealer | None) -> None:
    global _installed
    _installed = sealer


def installed() -> Sealer | None:
    return _installed
