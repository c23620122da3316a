"""The staff console's brand palette, derived from one colour (BRAND_COLOR).

Plain arithmetic with no Django import, so settings can check the colour at start-up.
"""

from __future__ import annotations

import re

HEX_COLOR = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
# unfold's base-100 (the active sidebar row): brand-coloured text must stay readable on it too.
LIGHTEST_BACKGROUND = (243, 244, 246)
# unfold's base-900 (the dark theme's page).
DARKEST_BACKGROUND = (17, 24, 39)
# WCAG 2.x AA for normal text, with a little room for rounding in the browser.
AA_CONTRAST = 4.6

RGB = tuple[int, int, int]


class InvalidColor(ValueError):
    """A brand colour that is not `#rrggbb` or `#rgb`."""


def parse_hex(value: str) -> RGB:
    match = HEX_COLOR.match(value.strip())
    if not match:
        raise InvalidColor(f"{value!r} is not a hex colour like #1d4ed8.")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def to_hex(rgb: RGB) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


def relative_luminance(rgb: RGB) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def mix(a: RGB, b: RGB, share_of_b: float) -> RGB:
    return tuple(round(x + (y - x) * share_of_b) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def readable_on_light(rgb: RGB) -> RGB:
    """`rgb` darkened just enough that white text on it, and it as text on the lightest
    background, reach AA contrast; a colour dark enough already comes back unchanged."""
    darker, step = rgb, 0
    while contrast(darker, LIGHTEST_BACKGROUND) < AA_CONTRAST and step < 100:
        step += 1
        darker = mix(rgb, BLACK, step / 100)
    return darker


def readable_on_dark(rgb: RGB) -> RGB:
    """`rgb` lightened just enough to read as text on the dark theme's background, where
    unfold draws links and the active menu entry in primary-500."""
    lighter, step = rgb, 0
    while contrast(lighter, DARKEST_BACKGROUND) < AA_CONTRAST and step < 100:
        step += 1
        lighter = mix(rgb, WHITE, step / 100)
    return lighter


def brand_palette(brand: str) -> dict[str, str]:
    """unfold's primary shades 50…950 from one brand colour.

    unfold draws buttons in primary-600 with white text and links in primary-600 on white, so
    600 is the brand made readable (readable_on_light); the dark theme's links use 500, made
    readable on dark (readable_on_dark); lighter shades mix 500 with white, darker ones mix 600
    with black. Any colour works: a pale yellow gives a dark olive 600, a navy stays navy.
    Raises InvalidColor for a value that is not a hex colour.
    """
    rgb = parse_hex(brand)
    base = readable_on_light(rgb)
    lighter = readable_on_dark(
        rgb if relative_luminance(rgb) > relative_luminance(base) else mix(base, WHITE, 0.15)
    )
    shades = {
        "50": mix(lighter, WHITE, 0.92),
        "100": mix(lighter, WHITE, 0.84),
        "200": mix(lighter, WHITE, 0.68),
        "300": mix(lighter, WHITE, 0.5),
        "400": mix(lighter, WHITE, 0.25),
        "500": lighter,
        "600": base,
        "700": mix(base, BLACK, 0.15),
        "800": mix(base, BLACK, 0.3),
        "900": mix(base, BLACK, 0.45),
        "950": mix(base, BLACK, 0.6),
    }
    return {weight: to_hex(value) for weight, value in shades.items()}
