"""Colours and sizes of the kiosk, for everyone and for elderly mode (长辈模式); no Kivy here.

MIIT's age-friendly rules (适老化, domain.md): body text at least 18 dp and main
actions at least 30 dp in elderly mode, touch targets at least 60×60 dp,
contrast at least 4.5:1, colour never the only signal (every state also has
a word: "出错了：", "已选"). The kiosk goes beyond them in both modes because
a 1080×1920 terminal is read from an arm's length away (about 100 px per
inch: 1 dp ≈ 1 px). tests/kiosk/test_theme.py checks every pair of colours.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Theme:
    name: str
    bg: str
    surface: str
    text: str
    muted: str
    primary: str
    on_primary: str
    selected: str
    on_selected: str
    disabled: str
    on_disabled: str
    border: str
    ok_bg: str
    ok_text: str
    warn_bg: str
    warn_text: str
    error_bg: str
    error_text: str
    info_bg: str
    info_text: str
    header_bg: str
    on_header: str
    # sizes: sp for text, dp for targets
    small_sp: int
    body_sp: int
    action_sp: int
    title_sp: int
    number_sp: int
    target_dp: int
    gap_dp: int
    border_dp: int

    def rgba(self, name: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
        return (*hex_rgb(getattr(self, name)), alpha)


NORMAL = Theme(
    name="normal", bg="#EEF2F7", surface="#FFFFFF", text="#16202B", muted="#44515F",
    primary="#0B4F9C", on_primary="#FFFFFF", selected="#0B4F9C", on_selected="#FFFFFF",
    disabled="#E3E6EA", on_disabled="#545B63", border="#8795A6",
    ok_bg="#E3F3E6", ok_text="#135C27", warn_bg="#FFF1D6", warn_text="#6B3F00",
    error_bg="#FDE7E7", error_text="#9B1217", info_bg="#E6EEF8", info_text="#0B3D78",
    header_bg="#0B4F9C", on_header="#FFFFFF",
    small_sp=22, body_sp=26, action_sp=32, title_sp=40, number_sp=200, target_dp=96, gap_dp=16, border_dp=2,
)

ELDERLY = Theme(
    name="elderly", bg="#FFFFFF", surface="#FFFFFF", text="#000000", muted="#1F1F1F",
    primary="#00307A", on_primary="#FFFFFF", selected="#00307A", on_selected="#FFFFFF",
    disabled="#D9D9D9", on_disabled="#2B2B2B", border="#000000",
    ok_bg="#DDF2E1", ok_text="#0A4019", warn_bg="#FFE9B8", warn_text="#4A2A00",
    error_bg="#FFDADA", error_text="#7A0006", info_bg="#DCE8F7", info_text="#002A66",
    header_bg="#00307A", on_header="#FFFFFF",
    small_sp=28, body_sp=34, action_sp=42, title_sp=48, number_sp=240, target_dp=120, gap_dp=20, border_dp=4,
)

# text on background pairs that must be readable (foreground, background)
PAIRS = (("text", "bg"), ("text", "surface"), ("muted", "surface"), ("muted", "bg"), ("on_primary", "primary"),
         ("on_selected", "selected"), ("on_disabled", "disabled"), ("ok_text", "ok_bg"), ("warn_text", "warn_bg"),
         ("error_text", "error_bg"), ("info_text", "info_bg"), ("on_header", "header_bg"), ("primary", "surface"))


def hex_rgb(value: str) -> tuple[float, float, float]:
    v = value.lstrip("#")
    return tuple(int(v[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def luminance(value: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in hex_rgb(value))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def theme_for(elderly: bool) -> Theme:
    return ELDERLY if elderly else NORMAL


def colour_names() -> list[str]:
    return [f.name for f in fields(Theme) if isinstance(getattr(NORMAL, f.name), str) and f.name != "name"]
