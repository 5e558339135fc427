"""The driver families a gateway can run, found by device type.

Each family package (`drivers/scale`, `drivers/scanner`, …) exposes the same two functions:
`check_profile(profile) -> list[str]` and `create(device_id, config, profile, peers) -> Driver`.
Profiles live in `firmware-config/{family}s/*.toml`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from drivers.base import PROFILE_ROOT, Driver, DriverError, ProfileError, load_profile

FAMILIES = ("scale", "scanner", "printer", "drawer", "display")


@dataclass(frozen=True)
class Family:
    """A driver family's two entry points."""

    name: str
    check_profile: Callable[[Mapping[str, Any]], list[str]]
    create: Callable[[str, Mapping[str, Any], Mapping[str, Any], Mapping[str, Driver]], Driver]


def family(name: str) -> Family:
    """Return a driver family by device type (raises DriverError)."""
    if name not in FAMILIES:
        raise DriverError(f"no driver family for device type {name!r}")
    try:
        module = importlib.import_module(f"drivers.{name}")
    except ImportError as err:
        raise DriverError(f"driver family {name} is not installed: {err}") from err
    return Family(
        name,
        cast("Callable[[Mapping[str, Any]], list[str]]", module.check_profile),
        cast(
            "Callable[[str, Mapping[str, Any], Mapping[str, Any], Mapping[str, Driver]], Driver]",
            module.create,
        ),
    )


def profile_for(type_: str, config: Mapping[str, Any], root: Path = PROFILE_ROOT) -> dict[str, Any]:
    """Return the profile a device's config names (empty when its family needs none)."""
    name = config.get("profile")
    if name is None:
        return {}
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        raise ProfileError(f"{config.get('id')}: bad profile name {name!r}")
    return load_profile(type_, name, root)


def check_all_profiles(root: Path = PROFILE_ROOT) -> dict[str, list[str]]:
    """Check every profile under firmware-config/; return {file: problems} (all files listed)."""
    report: dict[str, list[str]] = {}
    for name in FAMILIES:
        folder = root / f"{name}s"
        if not folder.is_dir():
            continue
        try:
            checker = family(name).check_profile
        except DriverError as err:
            for path in sorted(folder.glob("*.toml")):
                report[str(path.relative_to(root))] = [str(err)]
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                profile = load_profile(name, path.stem, root)
            except ProfileError as err:
                report[str(path.relative_to(root))] = [str(err)]
                continue
            report[str(path.relative_to(root))] = checker(profile)
    return report
