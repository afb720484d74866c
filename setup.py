"""The build step for jaxlearn's optional native optimizer kernels; everything else about the
package (metadata, dependencies, packages) lives in pyproject.toml.

``jaxlearn/optim/native/kernels.cc`` is compiled into a shared library that jaxlearn opens with
ctypes, registering its handlers with ``jax.ffi`` (it is also an empty Python extension module,
limited API, so that tools importing every module of the package can import it), against the
XLA FFI headers that ship inside jaxlib (``jaxlib/include``; jaxlib is a build requirement in
pyproject.toml, so pip's isolated build environment has it). The extension is *optional*: with
no C++ compiler, or if the build fails, ``pip install`` still succeeds and jaxlearn runs its
pure-XLA path, saying so once at first use (``jaxlearn.optim.native_status()`` says why).
"""

from __future__ import annotations

import importlib.util
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NATIVE = "jaxlearn/optim/native"
#: What kernels.cc exports besides PyInit__kernels (the linker needs the list on Windows): the
#: table of kernels, each kernel's handler by its row, each kernel's f32 loop run directly (the
#: formula probe's), and the build line. The kernels themselves
#: are rows of that table, so adding one changes nothing here.
SYMBOLS = [
    "JaxlearnKernelTable",
    "JaxlearnKernelHandler",
    "JaxlearnKernelRunF32",
    "JaxlearnKernelsInfo",
]
#: Flags, on purpose:
#: -O3: the loops must vectorise (checked with -fopt-info-vec when they change); -g0: no debug
#:   information (a 2 MB library becomes a small one);
#: -fno-math-errno: lets std::sqrt vectorise (with errno it is a library call per element, and
#:   the kernels ran 2x slower than XLA's three loops);
#: -ffp-contract=off: no multiply-add the source does not spell (loops.inc spells XLA's);
#: no -march: the library must run on any CPU of its architecture. kernels.cc compiles its loops
#:   twice on x86-64 (baseline SSE2, and AVX2+FMA behind a target pragma) and picks one at load.
UNIX_FLAGS = ["-O3", "-g0", "-std=c++17", "-fno-math-errno", "-ffp-contract=off"]
MSVC_FLAGS = ["/O2", "/std:c++17", "/fp:precise", "/EHsc"]


def xla_ffi_include() -> str | None:
    """``jaxlib/include`` (what ``jax.ffi.include_dir()`` returns) in the build environment."""
    override = os.environ.get("JAXLEARN_XLA_FFI_INCLUDE")
    if override:
        return override
    spec = importlib.util.find_spec("jaxlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "include")
    return path if os.path.isfile(os.path.join(path, "xla", "ffi", "api", "ffi.h")) else None


def skip(why: str) -> None:
    print(
        f"jaxlearn: native optimizer kernels not built ({why}); the XLA path will be used",
        file=sys.stderr,
    )


class OptionalKernels(build_ext):
    """build_ext that adds the FFI headers and per-compiler flags, and never fails the install."""

    def run(self) -> None:
        if os.environ.get("JAXLEARN_NATIVE_BUILD", "1") == "0":
            return skip("JAXLEARN_NATIVE_BUILD=0")
        include = xla_ffi_include()
        if include is None:
            return skip("no XLA FFI headers: jaxlib is not in the build environment")
        for ext in self.extensions:
            ext.include_dirs.append(include)
        try:
            super().run()
        except Exception as err:  # no compiler at all, and the like
            skip(f"{type(err).__name__}: {err}")

    def build_extension(self, ext: Extension) -> None:
        flags = MSVC_FLAGS if self.compiler.compiler_type == "msvc" else UNIX_FLAGS
        ext.extra_compile_args = flags
        try:
            super().build_extension(ext)
        except Exception as err:  # a compiler that rejects the source: keep the install going
            skip(f"{type(err).__name__}: {err}")

    def get_export_symbols(self, ext: Extension) -> list[str]:
        return super().get_export_symbols(ext) + SYMBOLS  # and PyInit__kernels


setup(
    ext_modules=[
        Extension(
            "jaxlearn.optim.native._kernels",
            sources=[f"{NATIVE}/kernels.cc"],
            depends=[f"{NATIVE}/loops.inc", f"{NATIVE}/storage.h"],
            language="c++",
            optional=True,
            py_limited_api=True,  # no Python API used beyond an empty module: one build per OS/CPU
        )
    ],
    cmdclass={"build_ext": OptionalKernels},
)
