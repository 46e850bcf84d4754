"""The figures README and docs quote from the committed metrics files still match those files."""
from __future__ import annotations

import json

import pytest

from tests.conftest import REPO

METRICS = {name: json.loads((REPO / "metrics" / f"{name}.json").read_text())
           for name in ("train", "evaluate", "evaluate_fast", "export", "export_fast")}
METRICS |= {f"member_{name}": json.loads((REPO / "metrics/members" / f"{name}.json").read_text())
            for name in ("erasing", "video")}

# (page, the words it must contain, formatted from the metrics: m[FILE][KEY]...)
QUOTES = [
    ("README.md", "reads\n  FER-2013 PrivateTest at **{m[evaluate][fer2013_private_test][accuracy]:.4f}** "
                  "(PublicTest {m[evaluate][fer2013_public_test][accuracy]:.4f})"),
    ("README.md", "at **{m[evaluate_fast][fer_fast][fer2013_private_test][accuracy]:.4f}**"),
    ("docs/pipeline.md", "`train.accuracy` {m[train][train][accuracy]:.4f}, `eval.accuracy` {m[train][eval][accuracy]:.4f}"),
    ("docs/pipeline.md", "`eval.accuracy` {m[member_erasing][eval][accuracy]:.4f} and {m[member_video][eval][accuracy]:.4f}"),
    ("docs/pipeline.md", "`epochs` ({m[train][epochs]})"),
    *[("docs/pipeline.md",
       f"{prefix}({{m[{name}][fer2013_private_test][accuracy]:.4f}} / {{m[{name}][fer2013_private_test][macro_f1]:.4f}}, "
       f"{{m[{name}][fer2013_public_test][accuracy]:.4f}} / {{m[{name}][fer2013_public_test][macro_f1]:.4f}}, "
       f"{{m[{name}][pooled_test][accuracy]:.4f}} / {{m[{name}][pooled_test][macro_f1]:.4f}})")
      for name, prefix in (("evaluate", "`macro_f1` "), ("evaluate_fast][fer_fast", "`fer_fast` "))],
    ("docs/pipeline.md", "`checked_images` ({m[export][checked_images]})"),
    ("docs/pipeline.md", "({m[export][max_abs_difference]:.2e} and {m[export_fast][max_abs_difference]:.2e})"),
    ("docs/training.md", "| **{m[evaluate][fer2013_private_test][accuracy]:.4f}** | "
                         "{m[evaluate][fer2013_private_test][macro_f1]:.4f} | "
                         "**{m[evaluate][fer2013_public_test][accuracy]:.4f}** |"),
    ("docs/training.md", "scores it at {m[evaluate_fast][fer_fast][fer2013_private_test][accuracy]:.4f} on PrivateTest in float32 "
                         "(macro-F1 {m[evaluate_fast][fer_fast][fer2013_private_test][macro_f1]:.4f}"),
]


@pytest.mark.parametrize("page, template", QUOTES, ids=[f"{page}:{template[:40]}" for page, template in QUOTES])
def test_a_quoted_figure_matches_its_metrics_file(page, template):
    expected = template.format(m=METRICS)
    text = (REPO / page).read_text()
    assert expected in text, f"{page} should quote {expected!r}, as metrics/ holds now"


def test_every_metrics_file_is_quoted_somewhere():
    quoted = " ".join(template for _, template in QUOTES)
    assert all(f"m[{name}]" in quoted for name in METRICS)
