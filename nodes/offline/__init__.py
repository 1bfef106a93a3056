"""The built-in offline model's side of the built-in nodes: how it plays each node's
purpose without a real LLM.

``planner`` picks tools for a message over whatever tools are listed (extras such as
the demo database's rules register with it), ``conversation`` holds the small-talk,
introduction and controls rules.
"""
