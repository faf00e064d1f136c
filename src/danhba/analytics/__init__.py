"""Analytics: each person's home page today (the numbers of the last days that their role may see,
recent activity, shortcuts); dashboards, RFM, basket analysis and lookalikes come later."""
