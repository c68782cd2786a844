"""Every option of every command says what it does (``--help`` is a user's first page)."""

import argparse
import importlib

import pytest

COMMANDS = [
    "run_pipeline", "train.calibrate_association", "pipeline.evaluate", "pipeline.synthetic.__main__",
    "pipeline.synthetic.corpus", "train.__main__", "train.calibrate_visibility", "train.detector",
    "train.detector_dataset", "train.detector_evaluation", "train.evaluate", "train.part_labels", "train.ship",
    "reid.export.__main__",
]


class Captured(Exception):
    pass


def parser_of(module_name, monkeypatch):
    """The ArgumentParser a command's main() builds (captured at parse_args, before anything runs)."""
    captured = []

    def capture(self, args=None, namespace=None):
        captured.append(self)
        raise Captured

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    module = importlib.import_module(module_name)
    entry = getattr(module, "main", None) or getattr(module, "build_parser")
    with pytest.raises(Captured):
        parser = entry([]) if entry.__name__ == "main" else entry()
        parser.parse_args([])
    return captured[0]


@pytest.mark.parametrize("module_name", COMMANDS)
def test_every_option_has_a_help_text(module_name, monkeypatch):
    parser = parser_of(module_name, monkeypatch)
    assert parser.description, f"{module_name}: no description"
    silent = [action.option_strings or [action.dest] for action in parser._actions
              if not isinstance(action, argparse._HelpAction) and not (action.help or "").strip()]
    assert not silent, f"{module_name}: options without help: {silent}"
