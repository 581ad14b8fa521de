"""Pulumi dynamic providers: thin resources over the core (build artifacts, serve locally, smoke-test).

Each provider class lives in an importable module of the installed package, so dill pickles it by
reference and the engine's provider process imports it from the program's virtualenv.

Secrets: the providers carry no fields at all; everything they use comes through their inputs, and
no input is a secret (paths, digests, ports, URLs). Nothing secret can be in a pickled provider, so
each sets `serialize_as_secret_always = False`: the state stays readable and diffs stay visible.
A provider that ever needs a credential must read it at run time (a config file, resource
principals), never take it as an input or capture it.

Paths in inputs and state are stored relative to the project folder when they are inside it
(`components.providers.paths`), so a state moves between machines.
"""
