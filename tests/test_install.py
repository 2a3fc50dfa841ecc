"""scripts/install, docs/install.md and the unit agree with each other and with the config loader.

The install itself (root, useradd, /opt, /etc) is proven in a debootstrap'd bookworm by hand (see the
ops report); these tests keep the three files from drifting apart afterwards.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

from pbx_bridge.config import parse_settings

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
    for path in (f"{v['PREFIX']}/venv", f"{v['ETC']}/config.yaml", f"{v['ETC']}/itflow-api-key", v["STATE"],
                 "/etc/systemd/system/pbx-bridge.service"):
        assert f"`{path}" in doc, path
    # The modes the doc promises are the ones the script sets.
    assert "root:pbx-bridge, 0640" in doc
    assert 'chmod 0640 "$ETC/config.yaml"' in SCRIPT.read_text()
    assert 'chmod 0640 "$ETC/itflow-api-key"' in SCRIPT.read_text()
    assert "install -d -m 0750 -o root -g \"$USER_NAME\" \"$ETC\"" in SCRIPT.read_text()


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
