"""The room in a browser: ``roomtruth serve``, a local web app over the room workspace.

A thin layer: every figure and sentence it shows comes from the packages the CLI uses
(``monitor.history`` for verifications, ``reports.findings`` for findings, ``reports.letter`` for
the letter, ``mixes.analysis`` for mixes, the ``measure`` command's own code path for sweeps,
refusals as the very sentence the CLI prints).  Nothing below ``roomtruth`` imports it.

Modules: :mod:`.security` (token, CSRF, origin, path confinement), :mod:`.state` (the
workspace, caches, the one measurement job, the live monitor), :mod:`.svg` (server-side
plots), :mod:`.app` (routes and pages).
"""
