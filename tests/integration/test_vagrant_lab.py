"""The Vagrant lab (vagrant/), tested as far as a machine that cannot boot VMs allows:

- `vagrant validate` on the Vagrantfile (with Debian's vagrant package);
- the provisioning scripts run for real, as root, in a container made from a debootstrapped
  Debian 12 rootfs with the repo mounted at /opt/shoal. Systemd is not PID 1 there, so the
  scripts install the units without starting them; the test then starts etcd, the control
  plane, the agent and Prometheus itself, from the files provisioning wrote, and checks that
  Prometheus finds the agent through the control plane's /sd.

Everything a lab VM would reach (etcd, control plane, agent, Prometheus) lives in the
container's own network namespace: no traffic goes to the lab's private addresses.

The rootfs is built once into SHOAL_TEST_CACHE (/var/cache/shoal-test) and kept, with apt's
and pip's download caches; the image and container are removed after every run. docker.io is
left out of the container (SHOAL_PROVISION_SKIP_DOCKER=1): it is large and dockerd cannot
run there, so the agent runs with the hollow runtime.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import docker
import docker.errors
import docker.models.containers
import pytest

from tests.waiting import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VAGRANT_DIR = REPO / "vagrant"
PROVISION = "/opt/shoal/vagrant/provision"
CACHE = Path(os.environ.get("SHOAL_TEST_CACHE", "/var/cache/shoal-test"))
ROOTFS_TAR = CACHE / "bookworm-rootfs.tar"
MIRROR = os.environ.get("SHOAL_DEBIAN_MIRROR", "http://deb.debian.org/debian")
IN_CI = os.environ.get("CI", "").lower() == "true"
HOST_CA = next((p for p in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"),
                            "/etc/ssl/certs/ca-certificates.crt") if p and os.path.isfile(p)), None)
CONTAINER_CA = "/run/shoal-test-ca.crt"
# Not copied into the container: host build products and caches, and the lab's local state.
SNAPSHOT_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache",
                                         ".ruff_cache", ".hypothesis", ".benchmarks", ".vagrant", ".shoal")


def require_tool(name: str, package: str) -> str:
    """The tool's path; a skip naming the package when it is missing, a failure under CI."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} is not installed (apt-get install -y {package}, or run scripts/ci-vagrant.sh)"
    if IN_CI:
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(f"{reason}; with CI=true this is a failure")


@contextmanager
def cache_lock() -> Iterator[None]:
    """Serialises runs on this machine: they share the rootfs and apt's caches, and apt
    refuses to run while another apt holds the lock."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- vagrant validate ----------------------------------------------------------------------

def _vagrant(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SHOAL_", "VAGRANT_"))}
    clean.update(
        VAGRANT_HOME=str(tmp_path / "vagrant-home"),
        # Keeps vagrant's machine state (.vagrant/) out of the repo.
        VAGRANT_DOTFILE_PATH=str(tmp_path / "dotfile"),
        VAGRANT_CWD=str(VAGRANT_DIR),
        VAGRANT_CHECKPOINT_DISABLE="1",
        **env,
    )
    return subprocess.run([require_tool("vagrant", "vagrant"), *args], env=clean, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)


def test_vagrantfile_validates(tmp_path: Path) -> None:
    for nodes in ("", "3"):
        r = _vagrant(tmp_path, "validate", "--ignore-provider", SHOAL_NODES=nodes)
        assert r.returncode == 0, f"vagrant validate (SHOAL_NODES={nodes!r}) failed:\n{r.stdout}\n{r.stderr}"
        assert "validated successfully" in r.stdout
        assert r.stdout.count("Ignoring provider config") == 1 + int(nodes or 2), r.stdout


def test_vagrantfile_rejects_bad_settings_naming_them(tmp_path: Path) -> None:
    for name, value in (("SHOAL_NODES", "two"), ("SHOAL_NODES", "0"), ("SHOAL_NET", "10.0.0.1"),
                        ("SHOAL_NODE_MEMORY", "1g")):
        r = _vagrant(tmp_path, "validate", "--ignore-provider", **{name: value})
        assert r.returncode != 0, f"{name}={value} was accepted"
        assert f"{name}={value!r}".replace("'", '"') in r.stderr, r.stderr


# --- the provisioning scripts in a Debian container ------------------------------------------

def _trim_rootfs(root: Path) -> None:
    """Drops what the tests never read (apt lists and debs are re-fetched through the
    cache mounts), and tells dpkg not to unpack documentation in the container either."""
    for pattern in ("usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*",
                    "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*"):
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    (root / "etc/dpkg/dpkg.cfg.d/01-shoal-test-nodoc").write_text(
        "".join(f"path-exclude=/usr/share/{d}/*\n" for d in ("doc", "man", "info", "locale")))


def ensure_rootfs_tar() -> Path:
    """The minimal Debian 12 rootfs as a tar, debootstrapped on first use and then reused."""
    with cache_lock():
        if ROOTFS_TAR.is_file():
            return ROOTFS_TAR
        debootstrap = require_tool("debootstrap", "debootstrap")
        work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
        try:
            root = work / "root"
            r = subprocess.run([debootstrap, "--variant=minbase", "bookworm", str(root), MIRROR],
                               capture_output=True, text=True, timeout=1500)
            if r.returncode != 0:
                pytest.fail(f"debootstrap from {MIRROR} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}",
                            pytrace=False)
            _trim_rootfs(root)
            partial = work / "rootfs.tar"
            subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
                           check=True, timeout=600)
            partial.rename(ROOTFS_TAR)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return ROOTFS_TAR


@pytest.fixture(scope="module")
def lab_image(docker_client: docker.DockerClient) -> Iterator[str]:
    tar = ensure_rootfs_tar()
    tag = f"shoal-test/bookworm-provision:{uuid.uuid4().hex[:12]}"
    repository, version = tag.split(":")
    docker_client.api.import_image_from_file(str(tar), repository=repository, tag=version)
    try:
        yield tag
    finally:
        with suppress(docker.errors.NotFound):
            docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def lab_container(docker_client: docker.DockerClient, lab_image: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[docker.models.containers.Container]:
    # A snapshot, not the live tree: other people edit it while this runs, and the
    # idempotency check needs the source to stay put between two provisioning runs.
    repo = tmp_path_factory.mktemp("lab") / "shoal"
    shutil.copytree(REPO, repo, ignore=SNAPSHOT_IGNORE, symlinks=True)
    for sub in ("apt-archives/partial", "apt-lists/partial", "pip"):
        (CACHE / sub).mkdir(parents=True, exist_ok=True)
    volumes = {
        str(repo): {"bind": "/opt/shoal", "mode": "ro"},
        str(CACHE / "apt-archives"): {"bind": "/var/cache/apt/archives", "mode": "rw"},
        str(CACHE / "apt-lists"): {"bind": "/var/lib/apt/lists", "mode": "rw"},
        str(CACHE / "pip"): {"bind": "/root/.cache/pip", "mode": "rw"},
    }
    if HOST_CA:
        # This machine may reach PyPI through a TLS-inspecting proxy whose CA only the host
        # trusts; a lab VM on someone's laptop needs none of this.
        volumes[HOST_CA] = {"bind": CONTAINER_CA, "mode": "ro"}
    container = docker_client.containers.run(lab_image, ["sleep", "infinity"], detach=True, volumes=volumes,
                                             labels={"shoal.test": "vagrant-lab"}, hostname="lab")
    try:
        yield container
    finally:
        container.remove(force=True)


def _env() -> dict[str, str]:
    env = {"SHOAL_PROVISION_SKIP_DOCKER": "1", "PIP_DEFAULT_TIMEOUT": "120"}
    if HOST_CA:
        env["PIP_CERT"] = CONTAINER_CA
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def run_in(container: docker.models.containers.Container, *cmd: str, **env: str) -> tuple[int, str]:
    code, out = container.exec_run(list(cmd), environment={**_env(), **env})
    return code, out.decode(errors="replace")


def provision(container: docker.models.containers.Container, script: str, *args: str, **env: str) -> str:
    code, out = run_in(container, "bash", f"{PROVISION}/{script}", *args, **env)
    assert code == 0, f"{script} {' '.join(args)} exited {code}:\n{out[-6000:]}"
    return out


# No control plane runs while provisioning without systemd, so no real join token can be
# made yet: node.sh gets a well-formed stand-in, and the test that starts the services
# provisions the node again with a real one.
STAND_IN_TOKEN_FILE = "/tmp/stand-in-join-token"


def provision_node(container: docker.models.containers.Container, ip: str,
                   token_file: str = STAND_IN_TOKEN_FILE, **env: str) -> str:
    if token_file == STAND_IN_TOKEN_FILE:
        run_in(container, "sh", "-c", f"echo SHL10stand-in::notreal.notreal > {STAND_IN_TOKEN_FILE}")
    return provision(container, "node.sh", ip, "b", ip, SHOAL_JOIN_TOKEN_FILE=token_file, **env)


@pytest.fixture(scope="module")
def provisioned(lab_container: docker.models.containers.Container) -> dict[str, str]:
    """Runs the scripts as the Vagrantfile does, cp and node roles in one container, with
    the container's own address standing in for both private IPs. Returns the outputs."""
    lab_container.reload()
    ip = next(n["IPAddress"] for n in lab_container.attrs["NetworkSettings"]["Networks"].values() if n["IPAddress"])
    with cache_lock():
        out = {
            "ip": ip,
            "common": provision(lab_container, "common.sh", "controlplane"),
            "controlplane": provision(lab_container, "controlplane.sh", ip),
            "node": provision_node(lab_container, ip),
        }
    return out


@pytest.mark.timeout(1800)
def test_provisioning_installs_units_without_systemd(provisioned: dict[str, str],
                                                     lab_container: docker.models.containers.Container) -> None:
    assert "not installing docker.io" in provisioned["common"]
    for name in ("etcd", "shoal-controlplane", "prometheus", "nfs-server"):
        assert f"would run: systemctl enable --now {name}" in provisioned["controlplane"]
    assert f"would run: ensure_lab_share {provisioned['ip']}" in provisioned["controlplane"]
    assert f"would run: setup_registry {provisioned['ip']}" in provisioned["controlplane"]
    assert "no cluster CA at /vagrant/.shoal/cluster-ca.crt" in provisioned["node"]
    # The node's agent came from the install script (`shoal node install-script`), its
    # systemctl calls said rather than run: the unit, the environment file, the cluster marker.
    node = provisioned["node"]
    for line in ("shoal-install: wrote /etc/default/shoal-agent",
                 "shoal-install: wrote /etc/systemd/system/shoal-agent.service",
                 "shoal-install: started shoal-agent: joining cluster default", "would run: systemctl daemon-reload",
                 "would run: systemctl enable --quiet shoal-agent", "would run: systemctl restart shoal-agent"):
        assert line in node, f"{line!r} missing from node.sh's output:\n{node}"
    assert run_in(lab_container, "cat", "/var/lib/shoal/install-cluster")[1] == "default\n"
    assert run_in(lab_container, "cat", "/opt/shoal-venv/.shoal-package")[1].startswith("shoal==")
    assert run_in(lab_container, "sh", "-c", "ls /tmp/shoal-install.*")[0] != 0, \
        "the rendered script (it holds the token) was left behind"
    assert "promtool accepts /etc/prometheus/shoal.yml" in provisioned["controlplane"]

    for unit in ("shoal-agent.service", "shoal-controlplane.service", "shoal-registry.service"):
        code, text = run_in(lab_container, "cat", f"/etc/systemd/system/{unit}")
        assert code == 0 and text == (REPO / "deploy/systemd" / unit).read_text(), f"{unit} not installed as shipped"
    for cmd in (["--help"], ["agent", "--help"], ["controlplane", "--help"]):
        for shoal in ("/opt/shoal-venv/bin/shoal", "/usr/local/bin/shoal"):
            code, out = run_in(lab_container, shoal, *cmd)
            assert code == 0 and "usage: shoal" in out, f"{shoal} {' '.join(cmd)} failed:\n{out}"

    # The NFS export: only the lab's /24 (here the container's), root squashed. This kernel has
    # no nfsd, so exportfs and the server are not run here; the exports file is what they read.
    ip = provisioned["ip"]
    code, exports = run_in(lab_container, "cat", "/etc/exports.d/shoal.exports")
    lines = [ln for ln in exports.splitlines() if ln.strip() and not ln.startswith("#")]
    net = ip.rsplit(".", 1)[0] + ".0/24"
    assert code == 0 and lines == [f"/srv/shoal-share {net}(rw,sync,no_subtree_check,root_squash)"], exports
    assert run_in(lab_container, "stat", "-c", "%a", "/srv/shoal-share")[1].strip() == "1777"
    assert run_in(lab_container, "dpkg-query", "-W", "-f=${Status}", "nfs-kernel-server")[1] == "install ok installed"

    # The registry: the control plane fronts it and issues its tokens; it trusts the CA.
    _, cp_env = run_in(lab_container, "cat", "/etc/default/shoal-controlplane")
    for flag in (f"--registry {ip}:5000 ", f"--registry-token-listen {ip}:5001 ",
                 f"--registry-front-listen {ip}:5000 ", "--registry-upstream 127.0.0.1:5002"):
        assert flag in cp_env, f"{flag!r} missing from /etc/default/shoal-controlplane:\n{cp_env}"
    _, reg_env = run_in(lab_container, "cat", "/etc/default/shoal-registry")
    assert f"\nSSL_CERT_FILE=/etc/docker/certs.d/{ip}:5000/ca.crt\n" in reg_env, reg_env

    code, out = run_in(lab_container, "stat", "-c", "%a", "/etc/default/shoal-agent")
    assert out.strip() == "600", "the agent's environment file may hold a join token: it must be 600"
    code, out = run_in(lab_container, "cat", "/etc/default/shoal-agent")
    for flag in (f"--join {ip}:7400 ", "--cluster default ", "--name lab ", f"--address {ip} ",
                 "--metrics-address 0.0.0.0 ",
                 "--attribute ecs.availability-zone=b ", "--metrics-port 7402 --proxy --proxy-metrics-port 7403\""):
        assert flag in out, f"{flag!r} missing from /etc/default/shoal-agent:\n{out}"


@pytest.mark.timeout(1800)
def test_provisioning_again_changes_nothing(provisioned: dict[str, str],
                                            lab_container: docker.models.containers.Container) -> None:
    ip = provisioned["ip"]
    with cache_lock():
        again = (provision(lab_container, "common.sh", "controlplane") + provision(lab_container, "controlplane.sh", ip)
                 + provision_node(lab_container, ip))
    assert "]: wrote " not in again and "]: installing " not in again, again
    # The install script, run again by node.sh: no file written, no package installed, no restart.
    assert "shoal-install: unchanged: shoal-agent already configured for cluster default" in again, again
    assert "shoal-install: wrote" not in again and "shoal-install: installing" not in again, again
    assert "systemctl restart" not in again and "shoal already installed in /opt/shoal-venv" in again, again
    assert "is up to date with /opt/shoal" in again


@pytest.mark.timeout(600)
def test_provisioning_rejects_bad_arguments(provisioned: dict[str, str],
                                            lab_container: docker.models.containers.Container) -> None:
    ip = provisioned["ip"]
    for args, expected in (
        ((ip, "a;touch /tmp/pwned", ip), "ZONE: expected lowercase letters"),
        ((ip, "$(touch /tmp/pwned)", ip), "ZONE: expected lowercase letters"),
        (("192.168.56.300", "a", ip), "CP_ADDRESS: octet 300"),
        ((ip, "a", "192.168.56.11 --cluster x"), "NODE_ADDRESS: expected an IPv4 address"),
        ((ip, "a"), "usage: node.sh CP_ADDRESS ZONE NODE_ADDRESS"),
    ):
        code, out = run_in(lab_container, "bash", f"{PROVISION}/node.sh", *args)
        assert code != 0 and expected in out, f"node.sh {args}: exit {code}, wanted {expected!r}:\n{out}"
    code, out = run_in(lab_container, "bash", f"{PROVISION}/common.sh", "worker")
    assert code != 0 and "ROLE: expected controlplane or node, got 'worker'" in out, out
    code, out = run_in(lab_container, "bash", f"{PROVISION}/controlplane.sh", "cp.local")
    assert code != 0 and "CP_ADDRESS: expected an IPv4 address" in out, out
    assert run_in(lab_container, "test", "-e", "/tmp/pwned")[0] != 0, "an argument was run as a command"


@pytest.mark.timeout(600)
def test_node_sh_gives_the_agent_its_token_in_the_environment_not_argv(
        provisioned: dict[str, str], lab_container: docker.models.containers.Container) -> None:
    """What node.sh (through the install script) writes for the agent from a token file; the
    agent joining with it is test_provisioned_lab_runs_and_prometheus_finds_the_agent."""
    ip = provisioned["ip"]
    run_in(lab_container, "cp", "/etc/default/shoal-agent", "/tmp/agent.env")
    try:
        code, out = run_in(lab_container, "bash", f"{PROVISION}/node.sh", ip, "a", ip,
                           SHOAL_JOIN_TOKEN_FILE="/tmp/no-such-token")
        assert code != 0 and "no join token at /tmp/no-such-token" in out, out

        token = "sht_" + uuid.uuid4().hex
        run_in(lab_container, "sh", "-c", f"echo {token} > /tmp/join-token")
        out = provision(lab_container, "node.sh", ip, "a", ip, SHOAL_JOIN_TOKEN_FILE="/tmp/join-token")
        assert "joining" in out and token not in out, out
        _, env = run_in(lab_container, "cat", "/etc/default/shoal-agent")
        assert f"--join {ip}:7400 " in env and "--token" not in env and "ecs.availability-zone=a " in env, env
        assert f"\nSHOAL_JOIN_TOKEN={token}\n" in env, env

        run_in(lab_container, "sh", "-c", "echo 'short;rm' > /tmp/join-token")
        code, out = run_in(lab_container, "bash", f"{PROVISION}/node.sh", ip, "a", ip,
                           SHOAL_JOIN_TOKEN_FILE="/tmp/join-token")
        assert code != 0 and "join token: expected" in out, out

        out = provision(lab_container, "controlplane.sh", ip)
        assert "would run: create_join_token 1" in out, out
    finally:
        run_in(lab_container, "sh", "-c", "cp /tmp/agent.env /etc/default/shoal-agent"
                                          " && chmod 600 /etc/default/shoal-agent")


@pytest.mark.timeout(600)
def test_unit_files_pass_systemd_analyze_verify(provisioned: dict[str, str],
                                                lab_container: docker.models.containers.Container) -> None:
    if run_in(lab_container, "sh", "-c", "command -v systemd-analyze")[0] != 0:
        with cache_lock():
            code, out = run_in(lab_container, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "systemd",
                               DEBIAN_FRONTEND="noninteractive")
        if code != 0:
            pytest.skip(f"cannot install systemd in the container for systemd-analyze:\n{out[-2000:]}")
    # shoal-registry.service's condition (its config.yml) need not hold for verify.
    code, out = run_in(lab_container, "systemd-analyze", "verify", "/etc/systemd/system/shoal-agent.service",
                       "/etc/systemd/system/shoal-controlplane.service", "/etc/systemd/system/shoal-registry.service")
    assert code == 0 and not out.strip(), f"systemd-analyze verify:\n{out}"


def exec_start(unit: str) -> str:
    lines = [ln for ln in (REPO / "deploy/systemd" / f"{unit}.service").read_text().splitlines()
             if ln.startswith("ExecStart=")]
    assert len(lines) == 1, f"{unit}.service: expected one ExecStart, found {lines}"
    return lines[0].removeprefix("ExecStart=")


def installed_exec_start(c: docker.models.containers.Container, unit: str) -> str:
    code, text = run_in(c, "cat", f"/etc/systemd/system/{unit}.service")
    lines = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    assert code == 0 and len(lines) == 1, f"installed {unit}.service: expected one ExecStart:\n{text}"
    return lines[0].removeprefix("ExecStart=")


@pytest.mark.timeout(600)
def test_provisioned_lab_runs_and_prometheus_finds_the_agent(
        provisioned: dict[str, str], lab_container: docker.models.containers.Container) -> None:
    """Starts each service the way systemd would, systemd being absent: its environment
    files, then its unit's own ExecStart (the shell's splitting of an unquoted $VAR matches
    systemd's). The agent adds the hollow runtime, there being no dockerd."""
    c = lab_container
    starts = {
        "etcd": "set -a; . /etc/default/shoal-etcd; exec etcd --data-dir /tmp/etcd",
        "controlplane": f"set -a; . /etc/default/shoal-controlplane; exec {exec_start('shoal-controlplane')}",
        # The ExecStart of the unit the install script wrote (the one systemd-analyze verified).
        "agent": f"set -a; . /etc/default/shoal-agent; exec {installed_exec_start(c, 'shoal-agent')} --runtime hollow",
        "prometheus": "set -a; . /etc/default/shoal-prometheus; exec prometheus $ARGS --storage.tsdb.path=/tmp/prom",
        # As the unit's User= would run it.
        "registry": f"set -a; . /etc/default/shoal-registry; exec runuser -u docker-registry -- "
                    f"{exec_start('shoal-registry')}",
    }
    def start(name: str) -> None:
        c.exec_run(["bash", "-c", f"{starts[name]} > /tmp/{name}.log 2>&1"], detach=True)

    # systemd's LoadCredential, which hands the replica etcd's client key.
    run_in(c, "sh", "-c", "install -D -m 400 /etc/shoal/etcd/client.key "
                          "/run/credentials/shoal-controlplane.service/etcd-client.key")
    for name in ("etcd", "controlplane", "prometheus"):
        start(name)
    # A real join token from the running control plane, as controlplane.sh makes it under
    # systemd; then the node is provisioned with it and its agent joins.
    admin = {"SHOAL_ENDPOINT": "127.0.0.1:7400", "SHOAL_CA": "/var/lib/shoal-controlplane/pki/ca.crt",
             "SHOAL_CERT": "/var/lib/shoal-controlplane/pki/admin.crt",
             "SHOAL_KEY": "/var/lib/shoal-controlplane/pki/admin.key"}

    # The join token as controlplane.sh makes it under systemd: one join, a 24 h life.
    code, out = run_in(c, "bash", "-c", f"source {PROVISION}/lib.sh && create_join_token 1")
    assert code == 0 and "expires in 24h, 1 joins" in out, out
    _, listed = run_in(c, "/opt/shoal-venv/bin/shoal", "token", "list", "-o", "json", **admin)
    [info] = json.loads(listed)
    assert int(info["maxUses"]) == 1 and float(info["expiresAt"]) > 0, info
    # The registry's config as controlplane.sh writes it under systemd, once the control plane
    # serves; the node gets the CA from a file (in the lab: /vagrant/.shoal/cluster-ca.crt),
    # taken away here first so the trust the test uses below is the one node.sh installs.
    ip = provisioned["ip"]
    trust = f"/etc/docker/certs.d/{ip}:5000/ca.crt"
    code, out = run_in(c, "bash", "-c", f"source {PROVISION}/lib.sh && setup_registry {ip}")
    assert code == 0 and "configured the registry in /var/lib/shoal-registry" in out, out
    code, out = run_in(c, "bash", "-c", f"source {PROVISION}/lib.sh && setup_registry {ip}")
    assert code == 0 and "registry already configured" in out, out
    run_in(c, "sh", "-c", f"cp {trust} /tmp/cluster-ca.crt && rm {trust}")
    out = provision_node(c, ip, "/var/lib/shoal/join-token", SHOAL_REGISTRY_CA_FILE="/tmp/cluster-ca.crt")
    assert f"wrote {trust}" in out and "trusts the cluster registry" in out, out
    assert run_in(c, "cmp", trust, "/var/lib/shoal-controlplane/pki/ca.crt")[0] == 0, "node trust is not the cluster CA"
    start("registry")
    start("agent")

    # The NFS export's file system record, as controlplane.sh registers it under systemd
    # (nfsd itself is not started: this kernel has no NFS). Twice: the second run is a no-op.
    code, out = run_in(c, "bash", "-c", f"source {PROVISION}/lib.sh && ensure_lab_share {ip}")
    assert code == 0 and f"registered file system lab-share (nfs {ip}:/srv/shoal-share)" in out, out
    code, out = run_in(c, "bash", "-c", f"source {PROVISION}/lib.sh && ensure_lab_share {ip}")
    assert code == 0 and "already registered" in out, out
    _, listed = run_in(c, "/opt/shoal-venv/bin/shoal", "fs", "list", "-o", "json", **admin)
    [share] = [fs for fs in json.loads(listed) if fs["fileSystemId"] == "lab-share"]
    assert share["nfs"]["host"] == ip and share["nfs"]["export"] == "/srv/shoal-share", share
    # A record of that name pointing elsewhere is refused, not replaced.
    code, out = run_in(c, "bash", "-c", f"source {PROVISION}/lib.sh && ensure_lab_share 10.9.9.9")
    assert code != 0 and f"exists for {ip}:/srv/shoal-share, not 10.9.9.9:/srv/shoal-share" in out, out

    def logs() -> str:
        return "\n".join(f"== {n}\n" + run_in(c, "tail", "-n", "15", f"/tmp/{n}.log")[1] for n in starts)

    def get(url: str) -> object:
        code, out = run_in(c, "curl", "-fsS", url)
        assert code == 0, out
        return json.loads(out)

    try:
        # The registry started from its unit answers /v2/ through the control plane's front,
        # over TLS checked against the CA node.sh installed: 401, it wants a token from Shoal.
        def v2(*extra: str) -> tuple[int, str]:
            return run_in(c, "curl", "-sS", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", *extra)

        def registry_answers() -> str | None:
            code, out = v2("--cacert", trust, f"https://{ip}:5000/v2/")
            return out if code == 0 and out.endswith("401") else None

        answer = wait_for(registry_answers, 120, "the registry's /v2/ answering 401 through the front", 0.5)
        assert f'realm="https://{ip}:5001/token"' in answer and 'service="shoal-registry"' in answer, answer
        code, out = v2("http://127.0.0.1:5002/v2/")
        assert code == 0 and out.endswith("401"), f"docker-registry itself on loopback: {out}"
        code, out = v2(f"https://{ip}:5000/v2/")
        assert code != 0 and "certificate" in out, f"the front was trusted without the cluster CA: {out}"

        sd = wait_for(lambda: get("http://127.0.0.1:7401/sd"), 120, "the agent in the control plane's /sd", 0.5)
        assert sd[0]["targets"] == [f"{provisioned['ip']}:7402"] and sd[0]["labels"]["zone"] == "b", sd

        def agent_target_up() -> bool:
            targets = get("http://127.0.0.1:9090/api/v1/targets")["data"]["activeTargets"]
            return any(t["labels"]["job"] == "shoal-agents" and t["health"] == "up" for t in targets) and any(
                t["labels"]["job"] == "shoal-controlplane" and t["health"] == "up" for t in targets)

        wait_for(agent_target_up, 120, "Prometheus scraping the control plane and the agent found via /sd", 0.5)

        # The token never was on a command line: every process's argv is readable by all.
        token = run_in(c, "cat", "/var/lib/shoal/join-token")[1].strip()
        _, argvs = run_in(c, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
        assert "shoal agent" in argvs and token not in argvs, "the join token shows in a process's argv"
        # etcd: loopback only, and only for its client certificate.
        refused = [f"http://{provisioned['ip']}:2379", "http://127.0.0.1:2379", "https://127.0.0.1:2379"]
        for url in refused:
            code, out = run_in(c, "curl", "-fsS", "--cacert", "/etc/shoal/etcd/ca.crt", "-X", "POST",
                               "-d", "{}", f"{url}/v3/kv/range")
            assert code != 0, f"etcd answered {url} without a client certificate: {out}"
        code, out = run_in(c, "curl", "-fsS", "--cacert", "/etc/shoal/etcd/ca.crt", "--cert",
                           "/etc/shoal/etcd/client.crt", "--key", "/etc/shoal/etcd/client.key", "-X", "POST",
                           "-d", '{"key": "L3Nob2FsLw==", "range_end": "L3Nob2FsMA==", "count_only": true}',
                           "https://127.0.0.1:2379/v3/kv/range")
        assert code == 0 and int(json.loads(out)["count"]) > 0, out
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{logs()}") from None
