"""A busybox image built on this machine, with no registry: the rootfs is /bin/busybox (the
static Debian build) plus one symlink per applet, imported with ``docker import``.
`shoal up`'s sample service and every test run this image."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import subprocess
import tarfile
import tempfile
import time

import docker
import docker.errors

import shoal.logs

log = logging.getLogger(__name__)

BUSYBOX = "/bin/busybox"
DEFAULT_TAG = "shoal/busybox:latest"
# Directories the sample service and tests expect to exist (httpd -h /www, mktemp in /tmp).
DIRS = ("bin", "tmp", "www", "etc", "root", "var", "proc", "sys", "dev")
_FALLBACK_APPLETS = ("sh", "httpd", "sleep", "echo", "cat", "wget", "nc", "ls", "true", "false", "kill")


def _applets() -> list[str]:
    try:
        out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True, timeout=10)
        names = [n for n in out.stdout.split() if n and "/" not in n and n != "busybox"]
        return names or list(_FALLBACK_APPLETS)
    except (OSError, subprocess.SubprocessError):
        return list(_FALLBACK_APPLETS)


def rootfs_tar() -> bytes:
    """The image's root filesystem as an uncompressed tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in DIRS:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        with open(BUSYBOX, "rb") as f:
            data = f.read()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
        for name in _applets():
            link = tarfile.TarInfo(f"bin/{name}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        for path, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
                           ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
                           ("www/index.html", "shoal busybox\n")):
            raw = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(raw)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def _present(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def ensure_busybox_image(client: docker.DockerClient, tag: str = DEFAULT_TAG) -> str:
    """Returns ``tag``, importing the image first if the engine does not have it. Idempotent;
    concurrent callers on this machine serialise on a lock file so the import happens once."""
    if _present(client, tag):
        return tag
    lock_path = os.path.join(tempfile.gettempdir(), "shoal-busybox-image.lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _present(client, tag):
                return tag
            repository, _, version = tag.rpartition(":") if ":" in tag.split("/")[-1] else (tag, "", "latest")
            started = time.monotonic()
            client.api.import_image_from_data(
                rootfs_tar(),
                repository=repository,
                tag=version or "latest",
                changes=['CMD ["sh"]', "ENV PATH=/bin", "WORKDIR /"],
            )
            image_id = _present(client, tag)
            if not image_id:
                raise RuntimeError(f"docker import of {tag} reported success but the image is absent")
            log.info("imported busybox image",
                     extra=shoal.logs.kv(tag=tag, id=image_id[:19], seconds=round(time.monotonic() - started, 2)))
            return tag
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
