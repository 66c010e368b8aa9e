"""Build the map page's third-party files: `python web/build.py` (make, and the wheel build).

Leaflet comes from the npm registry at the version `web/package-lock.json` pins: `npm ci` installs
it into `web/node_modules` when that is missing, and its built files are copied into
`bot/webapp/static/vendor/` (git-ignored; the sdist and the wheel carry them). Nothing is done
when the vendor folder was already built from this very lockfile, so a wheel built from the
sdist needs no npm. Standard library only: setup.py loads this file before anything is installed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
VENDOR = ROOT / "bot" / "webapp" / "static" / "vendor"
STAMP = VENDOR / "build-stamp"
# What the page loads, from each package's folder in node_modules, to vendor/<package>/.
FILES = {
    "leaflet": ["dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"],
}


class BuildError(Exception):
    """The page cannot be built; the message is one line that says why."""


def lock_digest(web: Path = WEB) -> str:
    return hashlib.sha256((web / "package-lock.json").read_bytes()).hexdigest()


def built_files(vendor: Path = VENDOR) -> list[Path]:
    """Where the copied files land (folders as folders)."""
    return [vendor / pkg / Path(f).name for pkg, files in FILES.items() for f in files]


def is_built(web: Path = WEB, vendor: Path = VENDOR) -> bool:
    """The vendor files are all there and were copied for the current lockfile."""
    stamp = vendor / STAMP.name
    if not stamp.is_file() or not all(p.exists() for p in built_files(vendor)):
        return False
    if not (web / "package-lock.json").is_file():  # an unpacked wheel-like tree: trust it
        return True
    return stamp.read_text(encoding="utf-8").strip() == lock_digest(web)


def npm_ci(web: Path = WEB) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(
            "npm not found: the map page needs Node.js and npm to build "
            "(Debian: apt-get install npm), or a source archive that carries the built page"
        )
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=web,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise BuildError(f"npm ci failed in {web}: {last}")


def build(web: Path = WEB, vendor: Path = VENDOR, *, force: bool = False) -> bool:
    """Copy the vendor files, running `npm ci` first when node_modules lacks them.

    Returns False when there was nothing to do.
    """
    if not force and is_built(web, vendor):
        return False
    if not (web / "package-lock.json").is_file():
        raise BuildError(f"no {web / 'package-lock.json'}: cannot build the map page")
    modules = web / "node_modules"
    wanted = [modules / pkg / f for pkg, files in FILES.items() for f in files]
    if not all(p.exists() for p in wanted) or not _installed_matches_lock(web):
        npm_ci(web)
    if vendor.exists():
        shutil.rmtree(vendor)
    for pkg, files in FILES.items():
        (vendor / pkg).mkdir(parents=True)
        for f in files:
            source = modules / pkg / f
            target = vendor / pkg / Path(f).name
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)
    (vendor / STAMP.name).write_text(lock_digest(web) + "\n", encoding="utf-8")
    return True


def _installed_matches_lock(web: Path) -> bool:
    # npm ci writes node_modules/.package-lock.json; an older install may hold other versions.
    hidden = web / "node_modules" / ".package-lock.json"
    if not hidden.is_file():
        return False
    lock = json.loads((web / "package-lock.json").read_text(encoding="utf-8"))
    have = json.loads(hidden.read_text(encoding="utf-8"))
    return all(
        have.get("packages", {}).get(name, {}).get("version") == entry.get("version")
        for name, entry in lock.get("packages", {}).items()
        if name
    )


def main(argv: list[str]) -> int:
    force = "--force" in argv
    try:
        changed = build(force=force)
    except BuildError as exc:
        print(f"web/build.py: {exc}", file=sys.stderr)
        return 1
    where = VENDOR.relative_to(ROOT)
    print(f"map page: {where} {'built' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
