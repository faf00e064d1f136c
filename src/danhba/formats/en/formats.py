"""English: 6 Dec 2026, 6 Dec 2026, 07:05, 1,234,567.5. Day, month name and year cannot be read
two ways (12/06/2026 is June to some readers and December to others), and a 24-hour clock never
ends a sentence with "a.m.." (the format modules' syntax is Django's ``date`` filter's)."""

DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
YEAR_MONTH_FORMAT = "M Y"
# Chart axes and other places where the year is obvious.
MONTH_DAY_FORMAT = "j M"
FIRST_DAY_OF_WEEK = 1  # Monday, as in Vietnam

# ISO first (what <input type="date"> sends), then the way dates are shown; a typed 06/12/2026
# is read day first, as everyone around a Vietnamese business writes it.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d %b %Y", "%d %B %Y", "%d/%m/%Y", "%d/%m/%y"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%d %b %Y, %H:%M",
    "%d %b %Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d",
]

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
