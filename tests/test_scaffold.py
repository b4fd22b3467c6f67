"""H-15: `crm plugin new` writes a plugin that installs and passes its own tests."""

import os
import subprocess
import sys

import pytest

from crm_host import scaffold


@pytest.mark.parametrize("bad", ["X", "1abc", "has-dash", "host", "class", "a" * 40])
def test_bad_names_are_refused(tmp_path, bad, crm_cli):
    target = tmp_path / "plugins"
    res = crm_cli("plugin", "new", bad, "--dir", target)
    assert res.exit_code == 1 and "not a usable plugin name" in res.output
    assert not target.exists()


def test_existing_folder_is_refused(tmp_path):
    scaffold.create("notes", tmp_path)
    with pytest.raises(scaffold.ScaffoldError, match="already exists"):
        scaffold.create("notes", tmp_path)


@pytest.mark.slow
def test_scaffold_installs_and_passes_its_tests(tmp_path):
    path = scaffold.create("field_notes", tmp_path)
    assert (path / "crm_field_notes" / "migrations" / "versions" / "0001_initial.py").exists()
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", str(path)]
    subprocess.run(pip, check=True, capture_output=True, timeout=300)
    try:
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
        res = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert "4 passed" in res.stdout
        listing = subprocess.run(
            [sys.executable, "-m", "crm_host.cli", "modules", "list"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**env, "CRM_INSTANCE_PATH": str(tmp_path / "inst")},
        )
        assert "field_notes" in listing.stdout, listing.stdout + listing.stderr
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "-y", "-q", "crm-field-notes"],
            capture_output=True,
            timeout=300,
        )
