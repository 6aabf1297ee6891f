"""Allure attachments: what a reader of the report needs to judge a scenario without rerunning it."""

from __future__ import annotations

import allure

from harness.checks import Verdict


def attach_verdicts(*verdicts: Verdict) -> None:
    """The counts (emitted, produced, committed, served, lost, duplicated) and example ids."""
    allure.attach("\n".join(str(v) for v in verdicts), name="verdicts", attachment_type=allure.attachment_type.TEXT)


def attach_text(name: str, text: str) -> None:
    allure.attach(text, name=name, attachment_type=allure.attachment_type.TEXT)


def attach_png(name: str, png: bytes) -> None:
    """A plot, drawn by harness.plots."""
    allure.attach(png, name=name, attachment_type=allure.attachment_type.PNG)
