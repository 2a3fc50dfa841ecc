"""scripts/install, docs/install.md and the unit agree with each other and with the config loader.

The last test runs the install itself (root, useradd, /opt, /etc) in a throwaway overlay of the Debian 13
chroot (scripts/trixie-setup), offline from its wheelhouse; the others keep the three files from
drifting apart.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest

from pbx_bridge.settings import parse_settings
from tests.test_debian13 import ROOT as TRIXIE
from tests.test_debian13 import require_trixie, root_mount_hint

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts/install"
DOC = ROOT / "docs/install.md"
UNIT = ROOT / "systemd/pbx-bridge.service"


def _vars() -> dict[str, str]:
    text = SCRIPT.read_text()
    return dict(re.findall(r"^([A-Z_]+)=([^\s$\"]+)$", text, flags=re.M))


def _config_template(url: str) -> str:
    text = SCRIPT.read_text()
    body = text.split('cat > "$ETC/config.yaml" <<EOF\n', 1)[1].split("\nEOF\n", 1)[0]
    v = _vars()
    body = body.replace("${URL:-https://itflow.example.com}", url)
    for name in ("PREFIX", "STATE", "ETC"):
        body = body.replace(f"${name}", v[name])
    return body.replace("\\$", "$")


def test_script_is_valid_sh() -> None:
    subprocess.run(["sh", "-n", str(SCRIPT)], check=True)


def test_paths_agree_between_script_doc_and_unit() -> None:
    v = _vars()
    assert v["PREFIX"] == "/opt/pbx-bridge" and v["ETC"] == "/etc/pbx-bridge"
    assert v["STATE"] == "/var/lib/pbx-bridge" and v["USER_NAME"] == "pbx-bridge"
    unit = UNIT.read_text()
    doc = DOC.read_text()
    assert f"ExecStart={v['PREFIX']}/venv/bin/pbx-bridge --config {v['ETC']}/config.yaml run" in unit
    assert f"LoadCredential=itflow-api-key:{v['ETC']}/itflow-api-key" in unit
    assert f"User={v['USER_NAME']}" in unit and f"ReadWritePaths={v['STATE']}" in unit
    for path in (
        f"{v['PREFIX']}/venv",
        f"{v['ETC']}/config.yaml",
        f"{v['ETC']}/itflow-api-key",
        v["STATE"],
        "/etc/systemd/system/pbx-bridge.service",
    ):
        assert f"`{path}" in doc, path
    # The modes the doc promises are the ones the script sets.
    assert "root:pbx-bridge, 0640" in doc
    assert 'chmod 0640 "$ETC/config.yaml"' in SCRIPT.read_text()
    assert 'chmod 0640 "$ETC/itflow-api-key"' in SCRIPT.read_text()
    assert 'install -d -m 0750 -o root -g "$USER_NAME" "$ETC"' in SCRIPT.read_text()


def test_the_config_the_script_writes_is_valid_with_the_credential(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "itflow-api-key").write_text("KeyFromLoadCredential\n")
    (creds / "itflow-api-key").chmod(0o400)
    text = _config_template("https://itflow.example.com")
    assert "api_key_file: ${CREDENTIALS_DIRECTORY}/itflow-api-key" in text
    settings = parse_settings(text, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert settings.api_key == "KeyFromLoadCredential"
    assert str(settings.state_dir) == "/var/lib/pbx-bridge"
    assert settings.itflow.url == "https://itflow.example.com"
    assert settings.ami is None  # the ami section is there, commented out, until the admin fills it


def test_doc_shows_the_same_config_lines_as_the_script() -> None:
    doc = DOC.read_text()
    snippet = textwrap.dedent(doc.split("```yaml\n", 1)[1].split("```", 1)[0])
    written = _config_template("https://itflow.example.com")
    for line in snippet.strip().splitlines():
        assert line.rstrip() in written.splitlines(), line


# --------------------------------------------------------------------------- the real install, Debian 13

TEST_VENV = "/opt/pbx-bridge-test-venv"

# Runs inside the chroot (a throwaway overlay of the trixie chroot), as root with umask 077, offline.
_IN_CHROOT = r"""
set -u
umask 077
say() { echo "RESULT $*"; }
SRC=/usr/local/src/pbx-bridge
# The simulator stands in for ITFlow, on loopback of this private network namespace.
PYTHONPATH=$SRC $TEST_VENV/bin/python -m pbx_bridge.cli sim --port 8780 >/tmp/sim.out 2>&1 &
SIM=$!
for _ in $(seq 100); do grep -q "key all:" /tmp/sim.out && break; sleep 0.2; done
sed -n 's/.*key all: //p' /tmp/sim.out > /root/itflow-api-key
# A trial run as root left its state where production lives (root:root, 0644 and 0600).
mkdir -p /var/lib/pbx-bridge
python3 -c "import sqlite3; c = sqlite3.connect('/var/lib/pbx-bridge/pbx-bridge.sqlite3'); \
c.execute('CREATE TABLE t (x)'); c.commit()"
echo '{}' > /var/lib/pbx-bridge/phonebook-state.json
chmod 0644 /var/lib/pbx-bridge/pbx-bridge.sqlite3
PIP_NO_INDEX=1 PIP_FIND_LINKS=/opt/pbx-bridge-wheels sh $SRC/scripts/install \
  --itflow-url http://127.0.0.1:8780 --key-file /root/itflow-api-key > /tmp/install.out 2>&1
say "install=$?"
cat /tmp/install.out
say "modes $(stat -c '%a:%U' /opt/pbx-bridge /opt/pbx-bridge/venv /opt/pbx-bridge/venv/bin/pbx-bridge \
  /etc/pbx-bridge /etc/pbx-bridge/config.yaml /etc/pbx-bridge/itflow-api-key | tr '\n' ' ')"
say "state $(stat -c '%n:%U:%a' /var/lib/pbx-bridge/* | tr '\n' ' ')"
AS_SERVICE="setpriv --reuid=pbx-bridge --regid=pbx-bridge --init-groups"
runuser -u pbx-bridge -- env CREDENTIALS_DIRECTORY=/etc/pbx-bridge \
  /opt/pbx-bridge/venv/bin/pbx-bridge --config /etc/pbx-bridge/config.yaml check > /tmp/check.out 2>&1
say "check=$?"
cat /tmp/check.out
# The service as systemd starts it: its user, UMask=0027, the key as a credential.
( umask 0027; exec env -i PATH=/usr/bin:/bin CREDENTIALS_DIRECTORY=/etc/pbx-bridge $AS_SERVICE \
  /opt/pbx-bridge/venv/bin/pbx-bridge --config /etc/pbx-bridge/config.yaml run ) > /tmp/run.out 2>&1 &
RUN=$!
python3 - <<'PY'
import time, urllib.error, urllib.request
status, body = 0, ""
for _ in range(150):
    try:
        with urllib.request.urlopen("http://127.0.0.1:8734/readyz", timeout=5) as r:
            status, body = r.status, r.read().decode()
        break
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode()
        if "not detected yet" not in body and "no directory yet" not in body:
            break
    except OSError:
        pass
    time.sleep(0.2)
print(f"RESULT readyz={status} {body}")
PY
kill -TERM $RUN; wait $RUN; say "run-exit=$?"
cat /tmp/run.out
# A root-owned state file again (e.g. a command run as root): check names it ...
chown root:root /var/lib/pbx-bridge/phonebook-state.json; chmod 0600 /var/lib/pbx-bridge/phonebook-state.json
runuser -u pbx-bridge -- env CREDENTIALS_DIRECTORY=/etc/pbx-bridge \
  /opt/pbx-bridge/venv/bin/pbx-bridge --config /etc/pbx-bridge/config.yaml check > /tmp/check2.out 2>&1
say "badcheck=$? $(grep '^fail' /tmp/check2.out | tr '\n' ' ')"
# What the old script left under umask 077: the service user cannot even start the program ...
chmod -R go-rwx /opt/pbx-bridge
$AS_SERVICE sh -c '/opt/pbx-bridge/venv/bin/pbx-bridge --version' >/dev/null 2>&1; say "broken=$?"
# ... and a re-run of the install repairs it.
PIP_NO_INDEX=1 PIP_FIND_LINKS=/opt/pbx-bridge-wheels sh $SRC/scripts/install > /tmp/install2.out 2>&1
say "reinstall=$?"
$AS_SERVICE sh -c '/opt/pbx-bridge/venv/bin/pbx-bridge --version' >/dev/null 2>&1; say "repaired=$?"
runuser -u pbx-bridge -- env CREDENTIALS_DIRECTORY=/etc/pbx-bridge \
  /opt/pbx-bridge/venv/bin/pbx-bridge --config /etc/pbx-bridge/config.yaml check > /tmp/check3.out 2>&1
say "recheck=$?"
kill $SIM
"""


@pytest.mark.host
@pytest.mark.timeout(900)
def test_install_under_umask_077_after_a_root_trial_gives_a_working_service(tmp_path: Path) -> None:
    require_trixie()
    if not (TRIXIE / "opt/pbx-bridge-wheels").is_dir():
        pytest.fail(f"{TRIXIE} has no wheelhouse: re-run scripts/trixie-setup")
    merged, upper, work = tmp_path / "root", tmp_path / "upper", tmp_path / "work"
    for d in (merged, upper, work):
        d.mkdir()
    q = shlex.quote
    excludes = " ".join(
        f"--exclude=./{x}"
        for x in (".git", ".venv", ".state", ".lab", "lab/chroot", "build", "*.egg-info", "__pycache__")
    )
    outer = "\n".join(
        [
            "set -e",
            f"mount -t overlay overlay -o lowerdir={q(str(TRIXIE))},upperdir={upper},workdir={work} {merged}",
            "ip link set lo up",
            f"mount --rbind /dev {merged}/dev",
            f"mount -t proc proc {merged}/proc",
            f"mount -t tmpfs -o mode=1777 tmpfs {merged}/tmp",
            f"mkdir -p {merged}/usr/local/src/pbx-bridge",
            f"tar -C {q(str(ROOT))} {excludes} -cf - . | tar -C {merged}/usr/local/src/pbx-bridge -xf -",
            f"exec chroot {merged} env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "
            f"TEST_VENV={TEST_VENV} sh -c {q(_IN_CHROOT)}",
        ]
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--net", "--propagation", "private", "--fork", "sh", "-c", outer],
        capture_output=True,
        text=True,
        timeout=850,
        stdin=subprocess.DEVNULL,
    )
    out = proc.stdout + proc.stderr + root_mount_hint(proc.stderr)
    results = dict(re.findall(r"^RESULT (\S+?)[= ](.*)$", out, flags=re.M))
    assert results.get("install") == "0", out
    assert "warning" not in out.split("RESULT install", 1)[0].lower(), out
    modes = results["modes"].split()
    assert modes[:3] == ["755:root", "755:root", "755:root"], out  # program: for everyone
    assert modes[3:] == ["750:root", "640:root", "640:root"], out  # config and key: the group
    # The trial's files were taken over.
    for entry in results["state"].split():
        assert ":pbx-bridge:" in entry and entry.endswith(("600", "640")), out
    assert results.get("check") == "0", out
    check = out.split("RESULT check=0", 1)[1].split("RESULT", 1)[0]
    assert "fail" not in check and "state_dir" in check and "key accepted" in check, check
    assert "Warning" not in check, check
    assert results["readyz"].startswith("200 "), out
    assert results.get("run-exit") == "0", out
    assert results.get("broken") == "126", out
    assert results.get("reinstall") == "0" and results.get("repaired") == "0", out
    # check told the truth about the one root-owned file, and the re-run took it over again.
    bad = results["badcheck"]
    assert bad.startswith("1 ") and "fail  state file: /var/lib/pbx-bridge/phonebook-state.json" in bad, bad
    assert "owner root" in bad and bad.count("fail") == 1, bad
    assert results.get("recheck") == "0", out
