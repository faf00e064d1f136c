"""danhba's own date and number formats per language (``FORMAT_MODULE_PATH``).

Django's defaults write a date three ways on one page ("Dec. 6, 2026", "12/06/2026", "06-12-2026")
and leave Vietnamese numbers ungrouped. These modules give each language one date format for
every page, chart and message, and numbers grouped by thousands; ``core.formatting`` and the
``formatting`` template filters read them.
"""
