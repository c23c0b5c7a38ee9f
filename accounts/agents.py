"""Short, human names for User-Agent strings, for lists of remembered browsers."""

BROWSER_MARKERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
SYSTEM_MARKERS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def browser_label(agent: str) -> str:
    """Return a short name such as "Chrome on Linux" for a User-Agent, or "Unknown browser"."""
    browser = next((name for marker, name in BROWSER_MARKERS if marker in agent), "")
    system = next((name for marker, name in SYSTEM_MARKERS if marker in agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"
