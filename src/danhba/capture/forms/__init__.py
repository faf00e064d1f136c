"""Web forms: the builder, the hosted page, iframe and script embed, submissions and their
processing (decision 0021)."""
