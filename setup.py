"""Build the vdestack extension: Cython over the C core in csrc/.

One extension, ``vdestack._core``, is compiled from ``vdestack/_core.pyx``
and every ``csrc/*.c`` except ``csrc/interpose.c`` (the libc ``socket()``
override belongs only to the C library).  The C core is compiled into the
extension, never linked against a ``libvdestack.so``: only the module's init
function is exported, so the core's ``vde_*`` symbols cannot clash with a
libvdestack (ours or the original) loaded in the same process.

Requires the development files of libvdeplug and libmnl (Debian/Ubuntu:
``apt-get install libvdeplug-dev libmnl-dev``); the build says so when they
are missing.

The extension is linked stripped (no debug information: about 190 KB
instead of 1.1 MB); ``VDESTACK_NO_STRIP=1`` in the environment keeps the
symbols and debug information (for gdb, sanitizers, perf).

Everything the build writes goes to ``build/`` in the tree, or to a
temporary directory when the tree is not writable (``pip install`` from a
read-only checkout or by a user who does not own it).
"""

import atexit
import glob
import os
import shutil
import subprocess
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = "csrc"
EXCLUDED_C = {"interpose.c"}      # only in libvdestack.so
INSTALL_HINT = "apt-get install libvdeplug-dev"
CARES_HINT = "apt-get install libc-ares-dev"
MNL_HINT = "apt-get install libmnl-dev"
EXPORTED = ["PyInit__core"]


def build_root():
    """The directory the build writes into: ``build/`` when the source tree
    is writable, else a temporary directory removed at exit."""
    if os.access(HERE, os.W_OK) and (not os.path.exists(os.path.join(HERE, "build"))
                                     or os.access(os.path.join(HERE, "build"), os.W_OK)):
        return "build"
    tmp = tempfile.mkdtemp(prefix="vdestack-build-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    return tmp


def strip_flags():
    """Linker flags that leave out the symbol table and debug information,
    unless VDESTACK_NO_STRIP is set (to anything but "" or "0")."""
    if os.environ.get("VDESTACK_NO_STRIP", "") not in ("", "0"):
        return []
    return ["-Wl,--strip-all"]


def c_sources():
    """Every C source of the core that belongs in the extension, sorted."""
    found = sorted(glob.glob(os.path.join(CSRC, "*.c")))
    return [p for p in found if os.path.basename(p) not in EXCLUDED_C]


def pkg_config(*args, package="vdeplug"):
    """Output words of ``pkg-config ARGS PACKAGE``, [] when unavailable."""
    if shutil.which("pkg-config") is None:
        return []
    try:
        out = subprocess.run(["pkg-config", *args, package],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return out.split()


def vdeplug_flags():
    """(include_dirs, library_dirs) for libvdeplug and libmnl.

    Debian's libvdeplug-dev ships no pkg-config file: the header and the
    library are then looked up in the compiler's default paths (libmnl-dev
    has one, used when pkg-config is there).
    """
    incs, libdirs = [], []
    for package in ("vdeplug", "libmnl"):
        incs += [w[2:] for w in pkg_config("--cflags-only-I", package=package)
                 if w.startswith("-I")]
        libdirs += [w[2:] for w in pkg_config("--libs-only-L", package=package)
                    if w.startswith("-L")]
    return incs, libdirs


class BuildExt(build_ext):
    """build_ext that probes for what the build needs and hides the C symbols."""

    def fail(self, what, hint):
        """Stop the build: what is missing and the command that installs it."""
        sys.stderr.write(
            "\n*** vdestack: %s.\n"
            "*** On Debian/Ubuntu install it with:  %s\n\n" % (what, hint))
        raise SystemExit("vdestack: %s; install it with: %s" % (what, hint))

    def probe(self, tmp, code, what, hint, include_dirs=(), libraries=None):
        """Compile (and, given libraries, link) a test program;
        fail(what, hint) if that does not work."""
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(code)
        incs, libdirs = vdeplug_flags()
        devnull = os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(2)
        os.dup2(devnull, 2)          # the compiler's error is not the message
        try:
            objs = self.compiler.compile([src], output_dir=tmp,
                                         include_dirs=list(include_dirs) + incs)
            if libraries is not None:
                self.compiler.link_executable(objs, "probe", output_dir=tmp,
                                              libraries=libraries,
                                              library_dirs=libdirs)
        except Exception:
            os.dup2(saved, 2)
            self.fail(what, hint)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)

    def check_requirements(self):
        """Feature probes, in order: a C compiler, Python.h, libvdeplug.h,
        -lvdeplug, libmnl/libmnl.h, -lmnl.  The first that fails stops the build with the Debian
        package to install."""
        tmp = tempfile.mkdtemp(prefix="vdestack-probe-")
        try:
            self.probe(tmp, "int main(void) { return 0; }\n",
                       "no working C compiler", "apt-get install gcc")
            self.probe(tmp, "#include <Python.h>\nint main(void) { return 0; }\n",
                       "Python.h not found (Python development files)",
                       "apt-get install python3-dev", include_dirs=self.include_dirs)
            self.probe(tmp, "#include <stddef.h>\n#include <libvdeplug.h>\n"
                            "int main(void) { VDECONN *c = NULL; return c != NULL; }\n",
                       "libvdeplug.h not found", INSTALL_HINT)
            self.probe(tmp, "#include <stddef.h>\n#include <libvdeplug.h>\n"
                            "int main(void) { return vde_open(\"\", \"\", NULL) != NULL; }\n",
                       "the libvdeplug library (-lvdeplug) not found", INSTALL_HINT,
                       libraries=["vdeplug"])
            self.probe(tmp, "#include <ares.h>\n"
                            "int main(void) { return ares_library_init(ARES_LIB_INIT_ALL); }\n",
                       "c-ares (ares.h, -lcares) not found", CARES_HINT,
                       libraries=["cares"])
            self.probe(tmp, "#include <stddef.h>\n#include <libmnl/libmnl.h>\n"
                            "int main(void) { struct nlmsghdr *h = NULL; return h != NULL; }\n",
                       "libmnl/libmnl.h not found", MNL_HINT)
            self.probe(tmp, "#include <stddef.h>\n#include <libmnl/libmnl.h>\n"
                            "int main(void) { return mnl_nlmsg_size(0) == 0; }\n",
                       "the libmnl library (-lmnl) not found", MNL_HINT,
                       libraries=["mnl"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def build_extensions(self):
        self.check_requirements()
        incs, libdirs = vdeplug_flags()
        # Export only the module's init function; every symbol of the C core,
        # including the VDS_EXPORT'ed vde_* calls, stays local to _core.so.
        os.makedirs(self.build_temp, exist_ok=True)
        script = os.path.join(os.path.abspath(self.build_temp), "vdestack_core.map")
        with open(script, "w") as f:
            f.write("{\n  global: %s;\n  local: *;\n};\n" % "; ".join(EXPORTED))
        for ext in self.extensions:
            ext.include_dirs.extend(incs)
            ext.library_dirs.extend(libdirs)
            ext.extra_link_args.append("-Wl,--version-script=" + script)
        super().build_extensions()


def extensions(root):
    """The extension, cythonized into ROOT/cython."""
    ext = Extension(
        "vdestack._core",
        sources=["vdestack/_core.pyx"] + c_sources(),
        include_dirs=[CSRC],
        libraries=["vdeplug", "cares", "mnl", "pthread"],
        define_macros=[("_GNU_SOURCE", None)],
        extra_compile_args=["-fvisibility=hidden", "-pthread", "-Wall"],
        extra_link_args=["-pthread"] + strip_flags(),
    )
    from Cython.Build import cythonize
    return cythonize(
        [ext],
        build_dir=os.path.join(root, "cython"),
        compiler_directives={"language_level": "3", "embedsignature": True},
    )


if __name__ == "__main__":
    os.chdir(HERE)
    root = build_root()
    options = {}
    if root != "build":
        # not into the read-only tree: setuptools' build/ and egg-info too
        options = {"build": {"build_base": root},
                   "egg_info": {"egg_base": root}}
    setup(ext_modules=extensions(root), cmdclass={"build_ext": BuildExt},
          options=options)
