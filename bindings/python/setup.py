"""Build hook of the duroxide Python package.

Building the package compiles the Go core into duroxide/libduroxide.so:

    go build -buildmode=c-shared -o <build>/duroxide/libduroxide.so ./capi

run from the repository root (found relative to this file, or named by
DUROXIDE_SOURCE_DIR). DUROXIDE_PREBUILT_LIBRARY=path skips the build and
packages that library instead. The wheel is tagged for the platform
(py3-none-<platform>): it holds a native library but no Python extension,
so it works with any Python 3 on that platform, and needs no Go.
"""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = "libduroxide.so"
MODULE = "github.com/duroxide/duroxide"


def repository_root():
    candidates = []
    if os.environ.get("DUROXIDE_SOURCE_DIR"):
        candidates.append(os.environ["DUROXIDE_SOURCE_DIR"])
    candidates.append(os.path.normpath(os.path.join(HERE, "..", "..")))
    for root in candidates:
        gomod = os.path.join(root, "go.mod")
        if os.path.isfile(gomod) and os.path.isdir(os.path.join(root, "capi")):
            with open(gomod, encoding="utf-8") as f:
                if MODULE in f.readline():
                    return root
    return None


class BuildPy(build_py):
    """build_py that also builds the Go core into the package."""

    def run(self):
        super().run()
        target_dir = os.path.abspath(os.path.join(self.build_lib, "duroxide"))
        os.makedirs(target_dir, exist_ok=True)
        build_library(os.path.join(target_dir, LIBRARY))


def build_library(target):
    target = os.path.abspath(target)
    prebuilt = os.environ.get("DUROXIDE_PREBUILT_LIBRARY")
    if prebuilt:
        shutil.copyfile(prebuilt, target)
        return
    root = repository_root()
    if root is None:
        shipped = os.path.join(HERE, "duroxide", LIBRARY)
        if os.path.isfile(shipped):
            shutil.copyfile(shipped, target)
            return
        raise SystemExit(
            "duroxide: cannot find the Go sources of duroxide (go.mod and capi/) above "
            + HERE
            + "; set DUROXIDE_SOURCE_DIR to the repository root, or install a prebuilt wheel."
        )
    go = shutil.which("go")
    if go is None:
        raise SystemExit(
            "duroxide: building this package compiles the duroxide Go core, and the Go toolchain "
            "(go 1.26 or newer, plus a C compiler for cgo) was not found on PATH. Install Go "
            "(https://go.dev/dl/) and retry, or install a prebuilt wheel built with `make wheel`, "
            "which needs no Go."
        )
    env = dict(os.environ, CGO_ENABLED="1")
    cmd = [go, "build", "-buildmode=c-shared", "-buildvcs=false", "-o", target, "./capi"]
    print("duroxide: " + " ".join(cmd) + "  (in " + root + ")", flush=True)
    try:
        subprocess.check_call(cmd, cwd=root, env=env)
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"duroxide: building libduroxide.so failed ({e}); see the go output above") from None
    header = os.path.splitext(target)[0] + ".h"
    if os.path.exists(header):
        os.remove(header)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


class BdistWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(distclass=BinaryDistribution, cmdclass={"build_py": BuildPy, "bdist_wheel": BdistWheel})
