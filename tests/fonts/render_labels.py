"""Draw labels with Kivy offscreen and save each as a PNG (run as a subprocess: one Kivy window per process).

Usage: python tests/fonts/render_labels.py SPEC.json RESULT.json

SPEC: {"kivy_home": dir, "fallback": true|false, "labels": [{"text": "𪚥*明", "out": "a.png"}, ...]}
The kiosk's own setup is used (kiosk.ui.setup.prepare: offscreen, WenQuanYi as Kivy's DEFAULT_FONT and
hallq.fonts.install_kivy_fallback(), as the board does too); "fallback": false empties the fallback list, to
draw what a kiosk without the fallback fonts shows.
RESULT: {"fonts": [fallback fonts], "labels": [{"text", "out", "font": the file Kivy drew it with}]}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text("utf-8"))
    from kiosk.ui.setup import prepare

    prepare((400, 200), fullscreen=False, headless=True, kivy_home=spec["kivy_home"])
    import hallq.fonts

    fonts = list(hallq.fonts._installed)
    if not spec.get("fallback"):
        hallq.fonts._installed.clear()
    from kivy.uix.label import Label

    results = []
    for item in spec["labels"]:
        label = Label(text=item["text"], font_size=64, color=(0, 0, 0, 1))
        label.texture_update()
        label.texture.save(item["out"], flipped=False)
        results.append({"text": item["text"], "out": item["out"], "font": label._label.options["font_name_r"]})
    Path(result_path).write_text(json.dumps({"fonts": fonts, "labels": results}, ensure_ascii=False), "utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
