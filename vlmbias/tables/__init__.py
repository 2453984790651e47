"""Tables and figures: the one registry of every table (``registry`` + ``registry.yaml``),
CSV + Markdown writing (``write``), figures (``plot``), and the HTML report pages (``report``)."""
