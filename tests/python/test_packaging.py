"""The installed distribution: metadata, license, the stripped extension.

scripts/test.sh installs the wheel that `python -m build` made from the
sdist, so these check what a user gets from pip.
"""

from __future__ import annotations

import subprocess
from importlib import metadata

import vdestack
from vdestack import _core


def test_metadata_license_readme_and_no_pins() -> None:
    md = metadata.metadata("vdestack")
    assert md["Version"] == vdestack.__version__
    assert md["License-Expression"] == "LGPL-2.1-or-later"
    assert md["Description-Content-Type"] == "text/markdown"
    body = md.get_payload() or md["Description"]
    assert body.startswith("# vdestack"), body[:80]
    assert "sudo bash scripts/test.sh" in body
    assert any(c.startswith("Operating System :: POSIX :: Linux")
               for c in md.get_all("Classifier"))
    requires = md.get_all("Requires-Dist") or []
    assert requires, "the test extra is declared"
    pinned = [r for r in requires if "==" in r.split(";")[0]]   # not the marker's ==
    assert not pinned, requires
    files = [str(f) for f in metadata.files("vdestack") or []]
    lic = [f for f in files if f.endswith("LICENSE")]
    assert lic, files
    text = metadata.distribution("vdestack").locate_file(lic[0]).read_text()
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "Version 2.1" in text


def test_extension_is_stripped() -> None:
    out = subprocess.run(["readelf", "-S", "-W", _core.__file__], capture_output=True,
                         text=True, check=True).stdout
    assert ".debug_info" not in out and ".symtab" not in out, out
    dyn = subprocess.run(["readelf", "--dyn-syms", "-W", _core.__file__], capture_output=True,
                         text=True, check=True).stdout
    exported = [line.split()[-1] for line in dyn.splitlines()
                if " GLOBAL " in line and " UND " not in line]
    assert exported == ["PyInit__core"], exported
