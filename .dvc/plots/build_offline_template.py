#!/usr/bin/env python3
"""Regenerate DVC's offline plots page: .dvc/plots/offline.html and .dvc/plots/LICENSES.vega.txt.

DVC's own page (dvc_render) loads Vega, Vega-Lite and vega-embed from cdn.jsdelivr.net, so offline no chart
is drawn. This script fetches the pinned npm tarballs below with ``npm pack`` (npm checks them against the
registry's sha512 and so does this script), inlines their minified UMD builds into an HTML template and writes
the upstream BSD-3-Clause licences beside it. .dvc/config points ``plots.html_template`` at the result, so
``dvc plots show`` and ``dvc plots diff`` use it without a flag.

Regenerate (needs node/npm and the npm registry), from the repository root::

    python .dvc/plots/build_offline_template.py            # rewrite offline.html and LICENSES.vega.txt
    python .dvc/plots/build_offline_template.py --check    # exit 1 if the committed files are out of date
    python .dvc/plots/build_offline_template.py --tarballs DIR   # use vega-5.33.1.tgz etc. already in DIR

To move to other versions, change PACKAGES (and the integrities: ``npm view vega@X dist.integrity``).

How DVC fills the template (dvc_render/html.py, HTML.embed): it does NOT use str.format; it calls
``template.replace("{" + name + "}", value)`` for scripts, plot_divs and refresh_tag, in that order. So the
braces of the inlined JavaScript need no escaping; what would break the page is the JavaScript containing one of
those three brace-wrapped names literally, or a closing script tag / an HTML comment opener (which ends or
confuses an inline script element). The script refuses to write the template if a build contains any of them.
The template deliberately has no scripts placeholder: that is where DVC would insert its CDN script tags.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "offline.html"
LICENSES = HERE / "LICENSES.vega.txt"

# DVC 3.67.1's dvc_render references vega@5.20.2, vega-lite@5.2.0, vega-embed@6.18.2 on the CDN; these are the
# newest releases of the same major versions (vega 6 / vega-embed 7 are ESM-only, with no UMD build to inline).
PACKAGES = [
    # (name, version, file in the tarball, npm dist.integrity)
    ("vega", "5.33.1", "package/build/vega.min.js",
     "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw=="),
    ("vega-lite", "5.23.0", "package/build/vega-lite.min.js",
     "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA=="),
    ("vega-embed", "6.29.0", "package/build/vega-embed.min.js",
     "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q=="),
]

# The vega tarball ships no LICENSE file (it lives at the root of the vega/vega monorepo). This is that file,
# https://github.com/vega/vega/blob/main/LICENSE, used only when a tarball has no LICENSE of its own.
VEGA_MONOREPO_LICENSE = """\
Copyright (c) 2015-2023, University of Washington Interactive Data Lab
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its contributors
  may be used to endorse or promote products derived from this software
  without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""

# Strings DVC substitutes (dvc_render.html.HTML.embed) and markup that would end an inline script early.
DVC_PLACEHOLDERS = ("{scripts}", "{plot_divs}", "{refresh_tag}")
FORBIDDEN_IN_SCRIPT = re.compile(r"</script|<!--", re.IGNORECASE)

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    @REFRESH@
    <title>DVC Plot</title>
    <!-- Offline DVC plots page: Vega, Vega-Lite and vega-embed are inlined below instead of loaded from a CDN.
         Generated by .dvc/plots/build_offline_template.py, do not edit by hand.
         @VERSIONS@ (BSD-3-Clause, see .dvc/plots/LICENSES.vega.txt). -->
@SCRIPTS@
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
<div id="dvc-plots">
    @PLOTS@
</div>
</body>
</html>
"""


def fetch(name: str, version: str, integrity: str, workdir: Path, tarballs: Path | None) -> bytes:
    filename = f"{name}-{version}.tgz"
    if tarballs is not None:
        data = (tarballs / filename).read_bytes()
    else:
        subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(workdir), "--silent"],
                       check=True, stdout=subprocess.DEVNULL)
        data = (workdir / filename).read_bytes()
    algorithm, expected = integrity.split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        sys.exit(f"{filename}: {algorithm} is {actual}, expected {expected} (npm dist.integrity)")
    return data


def inline_script(name: str, version: str, js: str) -> str:
    js = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)  # the .map file is not shipped
    bad = FORBIDDEN_IN_SCRIPT.search(js)
    if bad:
        sys.exit(f"{name}@{version}: its build contains {bad.group(0)!r}, which would break an inline <script>")
    for placeholder in DVC_PLACEHOLDERS:
        if placeholder in js:
            sys.exit(f"{name}@{version}: its build contains {placeholder!r}, which DVC would substitute")
    return (f'    <script type="text/javascript">/* {name}@{version} (BSD-3-Clause, LICENSES.vega.txt) */\n'
            f"{js.rstrip()}\n    </script>")


def build(tarballs: Path | None) -> tuple[str, str]:
    scripts, licences = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, version, member, integrity in PACKAGES:
            with tarfile.open(fileobj=io.BytesIO(fetch(name, version, integrity, Path(tmp), tarballs))) as tar:
                js = tar.extractfile(member).read().decode("utf-8")
                names = tar.getnames()
                licence_member = next((m for m in ("package/LICENSE", "package/LICENSE.md", "package/LICENSE.txt")
                                       if m in names), None)
                if licence_member:
                    licence, source = tar.extractfile(licence_member).read().decode("utf-8"), licence_member
                elif name == "vega":
                    licence, source = VEGA_MONOREPO_LICENSE, "https://github.com/vega/vega/blob/main/LICENSE"
                else:
                    sys.exit(f"{name}@{version}: no LICENSE in the tarball")
            scripts.append(inline_script(name, version, js))
            licences.append(f"{'=' * 78}\n{name} {version} (npm: {name}@{version}, file {member[len('package/'):]})"
                            f"\nLicense: BSD-3-Clause; text from {source}\n{'=' * 78}\n\n{licence.strip()}\n")
    versions = ", ".join(f"{name} {version}" for name, version, _, _ in PACKAGES)
    # Fill the page with str.replace, as DVC does, so no brace in the JavaScript is ever interpreted.
    page = (PAGE.replace("@VERSIONS@", versions).replace("@SCRIPTS@", "\n".join(scripts))
            .replace("@REFRESH@", "{refresh_tag}").replace("@PLOTS@", "{plot_divs}"))
    assert page.count("{plot_divs}") == 1 and "{scripts}" not in page and page.count("{refresh_tag}") == 1
    header = (f"Licences of the JavaScript libraries inlined into .dvc/plots/offline.html ({versions}).\n"
              "Their minified builds also bundle their own npm dependencies (d3-* modules and others),\n"
              "which carry their own permissive licences; see each package's package.json.\n\n")
    return page, header + "\n".join(licences)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed files")
    parser.add_argument("--tarballs", type=Path, help="folder holding the .tgz files already (no npm pack)")
    args = parser.parse_args()
    page, licences = build(args.tarballs)
    if args.check:
        stale = [str(p) for p, text in ((TEMPLATE, page), (LICENSES, licences))
                 if not p.is_file() or p.read_text(encoding="utf-8") != text]
        if stale:
            print("out of date: " + ", ".join(stale), file=sys.stderr)
            return 1
        print("up to date")
        return 0
    TEMPLATE.write_text(page, encoding="utf-8")
    LICENSES.write_text(licences, encoding="utf-8")
    print(f"wrote {TEMPLATE} ({len(page)} characters) and {LICENSES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
