"""Formula families: one module per quantity family, one short function per formula.

Modules here import only the standard library, numpy (through :mod:`xlcalc.expr`)
and :mod:`xlcalc.graph`; every function body uses operators and the helpers of
:mod:`xlcalc.expr` so that it evaluates on scalars, broadcasts over arrays and
renders to an Excel formula (DESIGN.md principles 1-3).
"""
