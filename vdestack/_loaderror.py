"""What to tell a user whose ``import vdestack`` failed in the extension.

The extension ``vdestack._core`` is linked against libvdeplug (vdeplug4)
and libmnl.  Without one of them the dynamic loader's message is a bare
``libvdeplug.so.2: cannot open shared object file``, which does not say
which package to install; :func:`explain` turns it into one that does.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["explain", "LIBVDEPLUG_HINT", "LIBMNL_HINT"]

#: the command that installs the run-time library on Debian/Ubuntu
LIBVDEPLUG_HINT = "apt-get install libvdeplug2"
LIBMNL_HINT = "apt-get install libmnl0"


def explain(exc: ImportError) -> Optional[str]:
    """A message for an ImportError of ``vdestack._core``, or None when the
    error is not one this module knows how to explain."""
    text = str(exc)
    if "libvdeplug" in text:
        return (f"vdestack needs the libvdeplug shared library (vdeplug4), which "
                f"could not be loaded: {text}. On Debian/Ubuntu install it with: "
                f"{LIBVDEPLUG_HINT} (the library and its VNL plugins)")
    if "libmnl" in text:
        return (f"vdestack needs the libmnl shared library (netlink messages), which "
                f"could not be loaded: {text}. On Debian/Ubuntu install it with: "
                f"{LIBMNL_HINT}")
    return None
