"""Figure titles that say which run a figure shows: its key settings and whatever differs from the defaults."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Always named, in this order (a reader compares runs by these first).
KEY_SETTINGS = ("hidden_dim", "lr", "reg", "num_epochs")
# Title characters per inch of figure width at the suptitle's 13 pt bold DejaVu Sans (measured: 8.5-9.5).
CHARS_PER_INCH = 8


def _value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _setting(key: str, value: Any) -> str:
    if key == "hidden_dim":
        return f"H={value}"
    if key == "num_epochs":
        return f"{value} epoch{'s' if value != 1 else ''}"
    return f"{key}={_value(value)}"


def run_settings(config: Mapping[str, Any], defaults: Mapping[str, Any], skip: Iterable[str] = ()) -> str:
    """The key settings of `config` (H, lr, reg, epochs), then every other key whose value differs from `defaults`.

    Keys in `skip` are left out (e.g. a search's grid keys, which its figure shows on its axes);
    keys that `config` lacks are taken as default. Example: "H=256, lr=0.001, reg=0.01, 20 epochs, update_rule=adam".
    """
    skip = set(skip)
    parts = [_setting(k, config[k]) for k in KEY_SETTINGS if k in config and k not in skip]
    parts += [_setting(k, v) for k, v in config.items()
              if k not in KEY_SETTINGS and k not in skip and k in defaults and v != defaults[k]]
    return ", ".join(parts)


def title(heading: str, settings: str, width_inches: float) -> str:
    """`heading` over `settings`, the settings wrapped after commas to fit a figure `width_inches` wide.

    A setting is never split ("20 epochs" stays on one line); one longer than the width gets a line of its own.
    """
    width = max(20, int(width_inches * CHARS_PER_INCH))
    lines: list[str] = []
    parts = settings.split(", ") if settings else []
    for i, part in enumerate(parts):
        comma = 1 if i + 1 < len(parts) else 0  # a line that is not the last ends with ","
        if lines and len(lines[-1]) + 2 + len(part) + comma <= width:
            lines[-1] += ", " + part
        else:
            if lines:
                lines[-1] += ","
            lines.append(part)
    return "\n".join([heading, *lines])
