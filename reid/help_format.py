"""``--help`` that shows each option's default, but not the empty ones (None, False)."""

from __future__ import annotations

import argparse


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's defaults formatter, quiet about defaults that mean "not given"."""

    def _get_help_string(self, action: argparse.Action) -> str:
        default = action.default
        if default is None or default is False or default is argparse.SUPPRESS or default == []:
            return action.help or ""
        return super()._get_help_string(action)
