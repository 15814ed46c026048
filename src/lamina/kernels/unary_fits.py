"""Fitted coefficients that the unary kernels and their NumPy references in lamina/ops/unary.py share (plain
numbers: importing this loads no numba).

erfc by a polynomial in t = 1/(1 + K·|z|): for a = |z|/√2, erfc(a) = e^(−a²)·t·P(t), P(t) = Σ ERFCX_COEFFICIENTS[k]·tᵏ.
P is a weighted least-squares fit of erfcx(a)/t (erfcx(a) = e^(a²)·erfc(a), smooth and bounded) at 8,000 Chebyshev
points of t in (0, 1]; its relative error is below 1.2e-8 for every |z| (checked on a grid to |z| = 30), so
e^(−a²)·t·P(t) is accurate relative to erfc's own size, deep in the tail where 1 − erf(a) would cancel to nothing.
K = 1/(2√2) rounded to float32, the value the float32 kernel computes with (the fit takes it as exact).
"""

ERFC_T_SCALE = 0.3535533845424652
ERFCX_COEFFICIENTS = (0.2820947905243022, 0.2820937358225037, 0.24688487993176142, 0.17531270154119122,
                      0.09348139202394046, -0.059276785238493224, 0.13231775152488762, -0.4551639888656157,
                      0.49385150097516395, -0.23480552260518195, 0.043209548975709645)
