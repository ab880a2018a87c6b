"""Accessibility checks the browser tests share: axe-core (vendored) and WCAG contrast."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Locator, Page


def check_axe(page: Page, base_url: str) -> None:
    """Zero axe-core violations (WCAG 2.x A/AA and best practices) on what is shown now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # From this origin by URL: the CSP allows 'self' scripts, not inline ones.
        page.add_script_tag(url=f"{base_url}/vendor/axe-core/axe.min.js")
    results = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }"""
    )
    assert results == [], json.dumps(results, indent=1)


def _rgba(colour: str) -> list[float]:
    values = [float(v) for v in re.findall(r"[\d.]+", colour)]
    return values if len(values) > 3 else [*values[:3], 1.0]


def luminance(rgb: str) -> float:
    r, g, b = (v / 255 for v in _rgba(rgb)[:3])

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def over(colour: str, background: str) -> str:
    """A translucent colour as seen over an opaque background."""
    *rgb, alpha = _rgba(colour)
    under = _rgba(background)[:3]
    mixed = [alpha * c + (1 - alpha) * u for c, u in zip(rgb, under, strict=True)]
    return "rgb({:.0f}, {:.0f}, {:.0f})".format(*mixed)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of colour a (translucent allowed) against opaque b."""
    a = over(a, b)
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def backdrop(element: Locator) -> str:
    """The first opaque background behind an element (itself excluded), white at the root."""
    return str(
        element.evaluate(
            """e => {
                for (let n = e.parentElement; n; n = n.parentElement) {
                    const c = getComputedStyle(n).backgroundColor;
                    const m = c.match(/[\\d.]+/g);
                    if (m && (m.length < 4 || Number(m[3]) === 1)) return c;
                }
                return 'rgb(255, 255, 255)';
            }"""
        )
    )
