"""The demo that ships with cogpipe: an MCP tool server over a generated SQLite database
of a small IoT service business (customers, devices, contracts, invoices).

It is an example, not part of the runtime: the default settings start it so a fresh
install has something real to query, and ``COGPIPE_TOOLS=none`` (or any other
``tool_servers`` list) leaves it out. Run it alone with ``cogpipe demo-db --help`` or
``python -m cogpipe.demo.server``.
"""
