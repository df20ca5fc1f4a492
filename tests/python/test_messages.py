"""Error messages that say what to do: a relative command path, an
unusable /dev/net/tun, a missing libvdeplug at import."""

from __future__ import annotations

import errno
import glob
import os
import shutil
import stat
import subprocess
import sys

import pytest

import vdestack
from vdestack import _loaderror, _messages


# -- a command given by a relative path ------------------------------------------

def test_relative_command_says_absolute_path_and_suggests(make_stack, tmp_path) -> None:
    s = make_stack()
    marker = tmp_path / "ran"
    with pytest.raises(OSError) as info:
        s.cmd(f"/bin/busybox touch {marker}; busybox true")
    assert info.value.errno == errno.EINVAL
    msg = str(info.value)
    assert "'busybox' is not an absolute path" in msg
    found = shutil.which('busybox', path=os.environ['PATH'] + ':' + _messages._SUGGEST_PATH)
    assert found and f"use {found!r}" in msg
    assert not marker.exists()                       # nothing ran


def test_relative_command_ip_link(make_stack) -> None:
    """The case of the issue: s.cmd("ip link")."""
    s = make_stack()
    with pytest.raises(OSError) as info:
        s.cmd("ip link")
    assert info.value.errno == errno.EINVAL
    assert "'ip' is not an absolute path" in str(info.value)
    assert "full path" in str(info.value)


def test_relative_command_not_on_path(make_stack) -> None:
    s = make_stack()
    with pytest.raises(OSError) as info:
        s.cmd("no-such-program-vdst --flag")
    assert "'no-such-program-vdst' is not an absolute path" in str(info.value)
    assert "use " not in str(info.value)


def test_relative_argv0_in_cmdv(make_stack) -> None:
    s = make_stack()
    with pytest.raises(OSError) as info:
        s.cmdv(["true"])
    assert info.value.errno == errno.EINVAL
    assert "'true' is not an absolute path" in str(info.value)


@pytest.mark.parametrize("line, words", [
    ("", "the command line is empty"),
    ("   ", "the command line is empty"),
    (" ; ", "the command line is empty"),
    ("/bin/echo 'open", "a quote is not closed"),
])
def test_other_invalid_lines_say_why(make_stack, line, words) -> None:
    s = make_stack()
    with pytest.raises(OSError) as info:
        s.cmd(line)
    assert info.value.errno == errno.EINVAL
    assert words in str(info.value)


def test_quoted_absolute_paths_are_not_blamed() -> None:
    commands, open_quote = _messages._split("'/bin/a b' x; \"/c\" 'd;e'")
    assert commands == [["/bin/a b", "x"], ["/c", "d;e"]] and not open_quote
    assert _messages.command_error("'/bin/true'", OSError(errno.EINVAL, "x")) is None
    assert _messages.command_error("ip", OSError(errno.ENOMEM, "x")) is None


# -- /dev/net/tun ------------------------------------------------------------------

def fake_stat(mode: int, uid: int = 0) -> os.stat_result:
    return os.stat_result((stat.S_IFCHR | mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))


def test_tun_message_for_unprivileged_0600() -> None:
    msg = _messages.tun_problem(errno.EACCES, 1001, fake_stat(0o600), usable=False)
    assert msg is not None
    assert "/dev/net/tun (mode 0600, owner uid 0)" in msg
    assert "chmod 0666 /dev/net/tun" in msg and "run as root" in msg


def test_tun_message_only_when_tun_is_the_cause() -> None:
    st = fake_stat(0o600)
    assert _messages.tun_problem(errno.EACCES, 0, st, usable=False) is None      # root
    assert _messages.tun_problem(errno.EACCES, 1001, fake_stat(0o666), usable=True) is None
    assert _messages.tun_problem(errno.ENOENT, 1001, st, usable=False) is None   # the VNL
    missing = _messages.tun_problem(errno.ENOENT, 1001, None, usable=False)
    assert missing is not None and "modprobe tun" in missing


def test_vnl_permission_error_still_blames_the_vnl(tmp_path) -> None:
    """EACCES from the VNL itself (a switch directory we may not enter)
    keeps the VNL message when /dev/net/tun is usable."""
    assert os.access(_messages.TUN, os.R_OK | os.W_OK)
    exc = OSError(errno.EACCES, "cannot open VNL 'vde:///x': Permission denied")
    assert _messages.stack_error("vde:///x", exc) is None
    assert _messages.stack_error(None, exc) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a private mount namespace; "
                    "the message itself is checked above for every user")
def test_unusable_tun_for_real(tmp_path) -> None:
    """A real unprivileged process (uid 65534) that sees a /dev/net/tun of
    mode 0600: in a private mount namespace a 0600 tun node is bind-mounted
    over /dev/net/tun, so the machine's device is left alone."""
    for tool in ("unshare", "setpriv", "mknod", "mount"):
        assert shutil.which(tool), f"{tool} (util-linux/coreutils) is needed"
    d = tmp_path / "tun"
    d.mkdir()
    code = ("import vdestack\n"
            "try:\n"
            "    vdestack.Stack('null://')\n"
            "except OSError as e:\n"
            "    print(type(e).__name__, e.errno, e)\n"
            "else:\n"
            "    print('no error')\n")
    script = (f"mount -t tmpfs none {d} && mknod -m 0600 {d}/tun c 10 200 && "
              f"mount --bind {d}/tun /dev/net/tun && "
              f"exec setpriv --reuid=65534 --regid=65534 --clear-groups "
              f"{sys.executable} -c \"$0\"")
    before = os.stat("/dev/net/tun")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        script, code], capture_output=True, text=True, timeout=60, cwd="/")
    assert os.stat("/dev/net/tun").st_mode == before.st_mode   # untouched outside
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    assert out.startswith(f"PermissionError {errno.EACCES} "), out
    assert "/dev/net/tun (mode 0600, owner uid 0)" in out
    assert "chmod 0666 /dev/net/tun" in out
    assert "cannot make a stack for VNL 'null://'" in out


# -- a missing libvdeplug ---------------------------------------------------------

def test_import_without_libvdeplug_names_the_package(tmp_path) -> None:
    """A copy of the installed package whose extension needs a libvdeplug
    that does not exist (the DT_NEEDED name changed from libvdeplug.so.2 to
    libvdeplug.so.9): the dynamic loader really fails, and the ImportError
    says what to install."""
    pkg = os.path.dirname(vdestack.__file__)
    copy = tmp_path / "site" / "vdestack"
    shutil.copytree(pkg, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (ext,) = glob.glob(str(copy / "_core*.so"))
    data = open(ext, "rb").read()
    assert data.count(b"libvdeplug.so.2\0") == 1
    with open(ext, "wb") as f:
        f.write(data.replace(b"libvdeplug.so.2\0", b"libvdeplug.so.9\0"))
    r = subprocess.run([sys.executable, "-c",
                        "import sys; sys.path.insert(0, sys.argv[1]); import vdestack",
                        str(tmp_path / "site")],
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: vdestack needs the libvdeplug shared library"), last
    assert "libvdeplug.so.9: cannot open shared object file" in last
    assert "apt-get install libvdeplug2" in last


def test_other_import_errors_are_left_alone() -> None:
    assert _loaderror.explain(ImportError("No module named 'vdestack._core'")) is None
